"""A deterministic, seeded shoe-retail catalogue for both sandboxes.

Variation `i` is computed from `(seed, i)` and the list of mutations, never stored, so a page
of 1,000 variations out of 1,000,000 costs 1,000 computations and memory stays flat. The only
per-catalogue memory is one offset per article (about 60,000 integers for a million
variations) so that `i` → article is a binary search.

Structure: an article has 1-4 colours; a colour has an 8-digit ECC variation number
(`10000000 + article * 10 + colour`) and a run of sizes; a variation is a colour in a size and
its SPoCC ID is the ECC number followed by the 3-digit size number. Variations are numbered
article by article, colour by colour, size by size, so SPoCC IDs ascend with `i`.

`mutate_images(percent)` gives that share of the articles new images (new bytes, content
hash and version) and stamps their content with the time.

`mutate(percent)` starts a new generation that changes the stock and prices of exactly
`round(len * percent / 100)` variations, chosen deterministically from `(seed, generation)`,
and stamps them with the mutation's time: that is what "changed since" finds.

The PlentyONE sandbox pre-seeds the same variations by iterating `articles()` (each with its
colours and `variations`) or `variations()`.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import struct
import threading
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

DEFAULT_VARIATIONS = 16_000
DEFAULT_SEED = 1
DEFAULT_CHANNEL_STORES: tuple[int, ...] = (1, 2, 3)
DEFAULT_CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)

ECC_BASE = 10_000_000
ARTICLE_NUMBER_BASE = 100_000
MAX_COLOURS = 4

_MASK = (1 << 64) - 1

# Namespaces, so that e.g. the stock draw and the price draw of one variation are independent.
(_T_SHAPE, _T_ARTICLE, _T_COLOUR, _T_STOCK, _T_PRICE, _T_EAN, _T_MUT, _T_IMG,
 _T_IMG_MUT) = range(1, 10)


def _mix(x: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _h(*parts: int) -> int:
    acc = 0
    for part in parts:
        acc = _mix(acc ^ (part & _MASK))
    return acc


@dataclass(frozen=True)
class ProductGroup:
    id: int
    name: str
    sizes: tuple[int, int]  # smallest and largest EU size sold in the group


PRODUCT_GROUPS: tuple[ProductGroup, ...] = (
    ProductGroup(1, "Sneakers", (36, 46)),
    ProductGroup(2, "Boots", (36, 46)),
    ProductGroup(3, "Sandals", (36, 45)),
    ProductGroup(4, "Pumps", (35, 42)),
    ProductGroup(5, "Loafers", (39, 46)),
    ProductGroup(6, "Slippers", (36, 46)),
    ProductGroup(7, "Running shoes", (37, 47)),
    ProductGroup(8, "Hiking shoes", (37, 47)),
    ProductGroup(9, "Kids' shoes", (24, 35)),
    ProductGroup(10, "Ballerinas", (35, 42)),
    ProductGroup(11, "Business shoes", (39, 47)),
    ProductGroup(12, "Ankle boots", (36, 42)),
)


@dataclass(frozen=True)
class AttributeValue:
    id: int
    name: str


@dataclass(frozen=True)
class Attribute:
    id: int
    name: str
    values: tuple[AttributeValue, ...]


def _attribute(attr_id: int, name: str, *values: str) -> Attribute:
    return Attribute(
        attr_id,
        name,
        tuple(AttributeValue(attr_id * 100 + n, v) for n, v in enumerate(values, start=1)),
    )


ATTRIBUTES: tuple[Attribute, ...] = (
    _attribute(1, "Upper material", "leather", "textile", "synthetic", "suede", "nubuck"),
    _attribute(2, "Lining", "leather", "textile", "lambskin", "unlined"),
    _attribute(3, "Sole", "rubber", "leather", "EVA", "polyurethane"),
    _attribute(4, "Closure", "laces", "hook and loop", "zip", "slip-on", "buckle"),
    _attribute(5, "Heel height", "flat", "low", "medium", "high"),
    _attribute(6, "Gender", "women", "men", "unisex", "kids"),
    _attribute(7, "Season", "spring/summer", "autumn/winter", "all year"),
    _attribute(8, "Width", "F", "G", "H"),
)

COLOURS: tuple[tuple[str, str], ...] = (
    ("BLK", "black"), ("WHT", "white"), ("BRN", "brown"), ("NVY", "navy"),
    ("GRY", "grey"), ("RED", "red"), ("BEI", "beige"), ("GRN", "green"),
    ("BLU", "blue"), ("PNK", "pink"), ("OLV", "olive"), ("TAN", "tan"),
)

BRANDS = ("Lumen", "Tread & Co", "Nordpfad", "Velora", "Kestrel", "Marlow", "Ostwind", "Pimento")
MODELS = ("Runner", "Trail", "City", "Classic", "Urban", "Summit", "Breeze", "Oxford",
          "Chelsea", "Comfort", "Sprint", "Glide")
EDITIONS = ("Pro", "Lite", "Max", "Air", "One", "Flex", "GTX", "Eco")

CHANNEL_STORE_NAMES = {1: "Flagship store", 2: "Outlet", 3: "Central warehouse"}


def channel_store_name(number: int) -> str:
    return CHANNEL_STORE_NAMES.get(number, f"Store {number}")


def format_cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def gtin13(body12: str) -> str:
    """The 12 digits plus their GTIN check digit."""
    total = sum(int(d) * (3 if n % 2 else 1) for n, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Image:
    ecc: str
    position: int
    version: int
    content_hash: str  # "sha256:" + hex digest of the bytes

    @property
    def path(self) -> str:
        return f"/media/{self.ecc}/{self.position}.png"


@dataclass(frozen=True)
class Variation:
    index: int
    spocc_id: str
    ecc: str
    size_number: str
    size: str
    ean: str | None
    article_index: int
    article_number: str
    colour_position: int  # 0-based within the article
    colour_code: str
    colour_name: str
    stock: tuple[int, ...]  # on hand, aligned with Catalogue.channel_stores
    retail_cents: int
    target_cents: int | None
    rrp_cents: int
    changed_at: datetime  # last change of stock or prices


@dataclass(frozen=True)
class Colour:
    ecc: str
    code: str
    name: str
    images: tuple[Image, ...]
    first_index: int  # variation index of its first size
    size_count: int  # how many of its sizes exist (the catalogue's last article may be cut)


@dataclass(frozen=True)
class Article:
    index: int
    article_number: str
    name: str
    brand: str
    product_group: ProductGroup
    attributes: tuple[tuple[int, int], ...]  # (attribute id, value id)
    colours: tuple[Colour, ...]
    first_index: int
    variation_count: int
    changed_at: datetime  # last change of its content (new images)


@dataclass(frozen=True)
class Mutation:
    generation: int  # 1 for the first mutation
    percent: float
    count: int
    at: datetime
    _stride: int
    _inverse: int
    _offset: int

    def touches(self, i: int, n: int) -> bool:
        return ((i - self._offset) * self._inverse) % n < self.count

    def indices(self, n: int) -> Iterator[int]:
        for j in range(self.count):
            yield (self._stride * j + self._offset) % n


@dataclass(frozen=True)
class _Shape:
    group: ProductGroup
    colours: int
    size_low: int
    size_count: int


class Catalogue:
    """`variations` variations from `seed`; thread-safe (mutations append under a lock)."""

    def __init__(
        self,
        variations: int = DEFAULT_VARIATIONS,
        seed: int = DEFAULT_SEED,
        channel_stores: tuple[int, ...] = DEFAULT_CHANNEL_STORES,
        created_at: datetime = DEFAULT_CREATED_AT,
    ) -> None:
        if variations < 1:
            raise ValueError("a catalogue has at least one variation")
        if not channel_stores or any(n < 1 for n in channel_stores):
            raise ValueError("channel stores are positive numbers")
        self.size = variations
        self.seed = seed
        self.channel_stores = tuple(sorted(set(channel_stores)))
        self.created_at = created_at
        self._lock = threading.Lock()
        self._mutations: tuple[Mutation, ...] = ()
        self._image_mutations: tuple[Mutation, ...] = ()
        # offsets[k] = index of article k's first variation; array of machine ints, not objects.
        self._offsets = array("q")
        total = 0
        k = 0
        while total < variations:
            self._offsets.append(total)
            shape = self._shape(k)
            total += shape.colours * shape.size_count
            k += 1

    def __len__(self) -> int:
        return self.size

    @property
    def article_count(self) -> int:
        return len(self._offsets)

    @property
    def mutations(self) -> tuple[Mutation, ...]:
        return self._mutations

    @property
    def generation(self) -> int:
        return len(self._mutations)

    # -- structure ---------------------------------------------------------------------

    def _shape(self, k: int) -> _Shape:
        r = _h(self.seed, _T_SHAPE, k)
        group = PRODUCT_GROUPS[r % len(PRODUCT_GROUPS)]
        colours = 1 + (r >> 8) % MAX_COLOURS
        low, high = group.sizes
        span = high - low + 1
        size_count = min(span, 4 + (r >> 16) % 8)
        size_low = low + (r >> 24) % (span - size_count + 1)
        return _Shape(group, colours, size_low, size_count)

    def _article_end(self, k: int) -> int:
        return int(self._offsets[k + 1]) if k + 1 < len(self._offsets) else self.size

    def product_group_of(self, k: int) -> ProductGroup:
        """Article `k`'s product group, without building the article."""
        return self._shape(k).group

    def article_of(self, i: int) -> int:
        return bisect.bisect_right(self._offsets, i) - 1

    def index_of(self, spocc_id: str) -> int | None:
        """The variation index of a SPoCC ID, or None if the catalogue has no such variation."""
        if len(spocc_id) != 11 or not spocc_id.isdigit():
            return None
        ecc, size = int(spocc_id[:8]), int(spocc_id[8:])
        if ecc < ECC_BASE:
            return None
        k, colour = divmod(ecc - ECC_BASE, 10)
        if k >= len(self._offsets):
            return None
        shape = self._shape(k)
        pos = size - shape.size_low
        if colour >= shape.colours or not 0 <= pos < shape.size_count:
            return None
        i = int(self._offsets[k]) + colour * shape.size_count + pos
        return i if i < self._article_end(k) else None

    def ecc_exists(self, ecc: str) -> bool:
        if len(ecc) != 8 or not ecc.isdigit() or int(ecc) < ECC_BASE:
            return False
        k, colour = divmod(int(ecc) - ECC_BASE, 10)
        if k >= len(self._offsets) or colour >= self._shape(k).colours:
            return False
        return int(self._offsets[k]) + colour * self._shape(k).size_count < self._article_end(k)

    def article_index_of(self, article_number: str) -> int | None:
        if not article_number.isdigit():
            return None
        k = int(article_number) - ARTICLE_NUMBER_BASE
        return k if 0 <= k < len(self._offsets) else None

    # -- articles ----------------------------------------------------------------------

    def _colour_choice(self, k: int, count: int) -> list[int]:
        r = _h(self.seed, _T_COLOUR, k)
        first = r % len(COLOURS)
        step = (1, 5, 7, 11)[(r >> 8) % 4]  # coprime with 12: the first `count` are distinct
        return [(first + j * step) % len(COLOURS) for j in range(count)]

    def image(self, ecc: str, position: int, version: int = 1) -> Image:
        return Image(ecc, position, version, "sha256:" + _image_digest(self.seed, ecc, position,
                                                                        version))

    def image_bytes(self, ecc: str, position: int, version: int = 1) -> bytes:
        return _image_png(self.seed, ecc, position, version)

    def image_count(self, ecc: str) -> int:
        return 1 + _h(self.seed, _T_IMG, int(ecc)) % 3

    def article(self, k: int) -> Article:
        if not 0 <= k < len(self._offsets):
            raise IndexError(k)
        shape = self._shape(k)
        r = _h(self.seed, _T_ARTICLE, k)
        first = int(self._offsets[k])
        end = self._article_end(k)
        version = self.image_version(k)
        colours = []
        for pos, c in enumerate(self._colour_choice(k, shape.colours)):
            start = first + pos * shape.size_count
            if start >= end:
                break
            ecc = str(ECC_BASE + k * 10 + pos)
            images = tuple(
                self.image(ecc, p, version) for p in range(1, self.image_count(ecc) + 1)
            )
            code, name = COLOURS[c]
            colours.append(
                Colour(ecc, code, name, images, start, min(shape.size_count, end - start))
            )
        attributes = []
        for n, attribute in enumerate(ATTRIBUTES):
            pick = (r >> (4 * n)) % (len(attribute.values) + (1 if attribute.id == 8 else 0))
            if pick < len(attribute.values):  # width is optional: some articles have none
                attributes.append((attribute.id, attribute.values[pick].id))
        model = MODELS[(r >> 40) % len(MODELS)]
        edition = EDITIONS[(r >> 48) % len(EDITIONS)]
        return Article(
            index=k,
            article_number=str(ARTICLE_NUMBER_BASE + k),
            name=f"{model} {edition} {k + 1}",
            brand=BRANDS[(r >> 56) % len(BRANDS)],
            product_group=shape.group,
            attributes=tuple(attributes),
            colours=tuple(colours),
            first_index=first,
            variation_count=end - first,
            changed_at=self.content_changed_at(k),
        )

    def articles(self, start: int = 0, stop: int | None = None) -> Iterator[Article]:
        stop = len(self._offsets) if stop is None else min(stop, len(self._offsets))
        for k in range(start, stop):
            yield self.article(k)

    def article_variations(self, k: int) -> list[Variation]:
        first = int(self._offsets[k])
        return list(self.variations(first, self._article_end(k)))

    # -- variations --------------------------------------------------------------------

    def variation(self, i: int) -> Variation:
        if not 0 <= i < self.size:
            raise IndexError(i)
        k = self.article_of(i)
        shape = self._shape(k)
        colours = self._colour_choice(k, shape.colours)
        return self._variation(i, k, shape, colours, self._mutations)

    def variations(self, start: int = 0, stop: int | None = None) -> Iterator[Variation]:
        """Variations `start` … `stop - 1`, computed one at a time (nothing is kept)."""
        stop = self.size if stop is None else min(stop, self.size)
        mutations = self._mutations
        if start >= stop:
            return
        k = self.article_of(start)
        shape = self._shape(k)
        colours = self._colour_choice(k, shape.colours)
        end = self._article_end(k)
        for i in range(start, stop):
            if i >= end:
                k += 1
                shape = self._shape(k)
                colours = self._colour_choice(k, shape.colours)
                end = self._article_end(k)
            yield self._variation(i, k, shape, colours, mutations)

    def _variation(
        self,
        i: int,
        k: int,
        shape: _Shape,
        colours: list[int],
        mutations: tuple[Mutation, ...],
    ) -> Variation:
        local = i - int(self._offsets[k])
        colour_pos, size_pos = divmod(local, shape.size_count)
        ecc = str(ECC_BASE + k * 10 + colour_pos)
        size = shape.size_low + size_pos
        size_number = f"{size:03d}"
        code, name = COLOURS[colours[colour_pos]]
        generation, changed_at = 0, self.created_at
        for mutation in reversed(mutations):
            if mutation.touches(i, self.size):
                generation, changed_at = mutation.generation, mutation.at
                break
        stock = self._stock(i, generation)
        retail, target, rrp = self._prices(i, k, generation)
        e = _h(self.seed, _T_EAN, i)
        ean = None if e % 100 == 0 else gtin13(f"40{(self.seed * 7919 + i) % 10**10:010d}")
        return Variation(
            index=i,
            spocc_id=ecc + size_number,
            ecc=ecc,
            size_number=size_number,
            size=str(size),
            ean=ean,
            article_index=k,
            article_number=str(ARTICLE_NUMBER_BASE + k),
            colour_position=colour_pos,
            colour_code=code,
            colour_name=name,
            stock=stock,
            retail_cents=retail,
            target_cents=target,
            rrp_cents=rrp,
            changed_at=changed_at,
        )

    def _stock(self, i: int, generation: int) -> tuple[int, ...]:
        """On-hand stock per channel store: one hash feeds eight stores (a byte each)."""
        stock = []
        r = 0
        for n, _ in enumerate(self.channel_stores):
            if n % 8 == 0:
                r = _h(self.seed, _T_STOCK, i, generation, n // 8)
            byte = (r >> (8 * (n % 8))) & 0xFF
            # About a third of store slots are empty, as in real shoe stock; the rest 1-20 pairs.
            stock.append(0 if byte % 3 == 0 else 1 + (byte // 3) % 20)
        return tuple(stock)

    def _prices(self, i: int, k: int, generation: int) -> tuple[int, int | None, int]:
        base = 2995 + 1000 * (_h(self.seed, _T_PRICE, k) % 17)  # 29.95 … 189.95 per article
        rrp = base + 2000
        if generation:
            step = _h(self.seed, _T_PRICE, i, generation) % 5  # -20, -10, 0, +10, +20 EUR
            base = max(995, base + (step - 2) * 1000)
        has_target = _h(self.seed, _T_PRICE, k, 1) % 10 != 0
        return base, (base - 500 if has_target and base > 1495 else None), max(rrp, base)

    # -- change ------------------------------------------------------------------------

    def _selection(self, tag: int, generation: int, n: int, percent: float,
                   at: datetime | None) -> Mutation:
        """`round(n * percent / 100)` of range(n), as an affine permutation's first values:
        membership is O(1) and nothing is stored but three numbers."""
        if not 0 <= percent <= 100:
            raise ValueError("percent must be between 0 and 100")
        r = _h(self.seed, tag, generation)
        stride = 1 + r % max(1, n - 1)
        while math.gcd(stride, n) != 1:
            stride = stride % n + 1
        return Mutation(
            generation=generation,
            percent=percent,
            count=round(n * percent / 100),
            at=(at or datetime.now(UTC)).astimezone(UTC),
            _stride=stride,
            _inverse=pow(stride, -1, n) if n > 1 else 0,
            _offset=(r >> 32) % n,
        )

    def mutate(self, percent: float, at: datetime | None = None) -> Mutation:
        """Change stock and prices of `percent` % of the variations, stamped `at` (now)."""
        with self._lock:
            mutation = self._selection(_T_MUT, len(self._mutations) + 1, self.size, percent, at)
            self._mutations = (*self._mutations, mutation)
            return mutation

    def mutate_images(self, percent: float, at: datetime | None = None) -> Mutation:
        """Give new images (new bytes, hash and version) to `percent` % of the articles."""
        with self._lock:
            mutation = self._selection(
                _T_IMG_MUT, len(self._image_mutations) + 1, self.article_count, percent, at
            )
            self._image_mutations = (*self._image_mutations, mutation)
            return mutation

    @property
    def image_mutations(self) -> tuple[Mutation, ...]:
        return self._image_mutations

    def image_version(self, k: int) -> int:
        """1, plus one for each image mutation that touched article `k`."""
        return 1 + sum(1 for m in self._image_mutations if m.touches(k, self.article_count))

    def content_changed_at(self, k: int) -> datetime:
        for mutation in reversed(self._image_mutations):
            if mutation.touches(k, self.article_count):
                return mutation.at
        return self.created_at

    def articles_changed_within(
        self, since: datetime | None, before: datetime | None
    ) -> range | list[int]:
        """Sorted indices of the articles whose content changed at least once in the window."""
        if self.created_within(since, before):
            return range(self.article_count)
        touched: set[int] = set()
        for mutation in self._image_mutations:
            if (since is None or mutation.at >= since) and (before is None or mutation.at < before):
                touched.update(mutation.indices(self.article_count))
        return sorted(touched)

    def article_range(self, k: int) -> range:
        """The variation indices of article `k`."""
        return range(int(self._offsets[k]), self._article_end(k))

    def changed_at(self, i: int) -> datetime:
        """When variation `i`'s stock or prices last changed (its latest mutation)."""
        for mutation in reversed(self._mutations):
            if mutation.touches(i, self.size):
                return mutation.at
        return self.created_at

    def created_within(self, since: datetime | None, before: datetime | None) -> bool:
        return (since is None or since <= self.created_at) and (
            before is None or self.created_at < before
        )

    def touched_within(self, since: datetime | None, before: datetime | None) -> set[int]:
        """Indices changed by a mutation stamped in [since, before) (creation not counted)."""
        touched: set[int] = set()
        for mutation in self._mutations:
            if (since is None or mutation.at >= since) and (before is None or mutation.at < before):
                touched.update(mutation.indices(self.size))
        return touched

    def changed_indices(
        self, since: datetime | None = None, before: datetime | None = None
    ) -> list[int]:
        """Sorted indices of the variations whose stock or prices changed at least once in
        [since, before); the catalogue's creation counts as everyone's first change.

        "At least once", not "last changed": once `before` is past, the answer for a window
        never changes, so a client can page through it while the data keeps changing.
        """
        if self.created_within(since, before):
            return list(range(self.size))
        return sorted(self.touched_within(since, before))

    def reset(self) -> None:
        with self._lock:
            self._mutations = ()
            self._image_mutations = ()


@lru_cache(maxsize=8192)
def _image_png(seed: int, ecc: str, position: int, version: int) -> bytes:
    """A small solid-colour PNG whose colour comes from (seed, ecc, position, version)."""
    r = _h(seed, _T_IMG, int(ecc), position, version)
    rgb = bytes(((r >> s) & 0xFF) for s in (0, 8, 16))
    width = height = 8
    raw = b"".join(b"\x00" + rgb * width for _ in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(
            ">I", zlib.crc32(tag + data) & 0xFFFFFFFF
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@lru_cache(maxsize=8192)
def _image_digest(seed: int, ecc: str, position: int, version: int) -> str:
    return hashlib.sha256(_image_png(seed, ecc, position, version)).hexdigest()
