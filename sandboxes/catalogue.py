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
import math
import threading
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime

from sandboxes.catalogue_model import (
    ARTICLE_NUMBER_BASE,
    ATTRIBUTES,
    BRANDS,
    COLOURS,
    DEFAULT_CHANNEL_STORES,
    DEFAULT_CREATED_AT,
    DEFAULT_SEED,
    DEFAULT_VARIATIONS,
    ECC_BASE,
    EDITIONS,
    MAX_COLOURS,
    MODELS,
    PRODUCT_GROUPS,
    T_ARTICLE,
    T_COLOUR,
    T_EAN,
    T_IMG,
    T_IMG_MUT,
    T_MUT,
    T_PRICE,
    T_SHAPE,
    T_STOCK,
    Article,
    Colour,
    Image,
    Mutation,
    ProductGroup,
    Shape,
    Variation,
    channel_store_name,
    format_cents,
    gtin13,
    hash_of,
    image_digest,
    image_png,
)


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

    def _shape(self, k: int) -> Shape:
        r = hash_of(self.seed, T_SHAPE, k)
        group = PRODUCT_GROUPS[r % len(PRODUCT_GROUPS)]
        colours = 1 + (r >> 8) % MAX_COLOURS
        low, high = group.sizes
        span = high - low + 1
        size_count = min(span, 4 + (r >> 16) % 8)
        size_low = low + (r >> 24) % (span - size_count + 1)
        return Shape(group, colours, size_low, size_count)

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
        r = hash_of(self.seed, T_COLOUR, k)
        first = r % len(COLOURS)
        step = (1, 5, 7, 11)[(r >> 8) % 4]  # coprime with 12: the first `count` are distinct
        return [(first + j * step) % len(COLOURS) for j in range(count)]

    def image(self, ecc: str, position: int, version: int = 1) -> Image:
        return Image(ecc, position, version, "sha256:" + image_digest(self.seed, ecc, position,
                                                                        version))

    def image_bytes(self, ecc: str, position: int, version: int = 1) -> bytes:
        return image_png(self.seed, ecc, position, version)

    def image_count(self, ecc: str) -> int:
        return 1 + hash_of(self.seed, T_IMG, int(ecc)) % 3

    def article(self, k: int) -> Article:
        if not 0 <= k < len(self._offsets):
            raise IndexError(k)
        shape = self._shape(k)
        r = hash_of(self.seed, T_ARTICLE, k)
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
        shape: Shape,
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
        e = hash_of(self.seed, T_EAN, i)
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
                r = hash_of(self.seed, T_STOCK, i, generation, n // 8)
            byte = (r >> (8 * (n % 8))) & 0xFF
            # About a third of store slots are empty, as in real shoe stock; the rest 1-20 pairs.
            stock.append(0 if byte % 3 == 0 else 1 + (byte // 3) % 20)
        return tuple(stock)

    def _prices(self, i: int, k: int, generation: int) -> tuple[int, int | None, int]:
        base = 2995 + 1000 * (hash_of(self.seed, T_PRICE, k) % 17)  # 29.95 … 189.95 per article
        rrp = base + 2000
        if generation:
            step = hash_of(self.seed, T_PRICE, i, generation) % 5  # -20, -10, 0, +10, +20 EUR
            base = max(995, base + (step - 2) * 1000)
        has_target = hash_of(self.seed, T_PRICE, k, 1) % 10 != 0
        return base, (base - 500 if has_target and base > 1495 else None), max(rrp, base)

    # -- change ------------------------------------------------------------------------

    def _selection(self, tag: int, generation: int, n: int, percent: float,
                   at: datetime | None) -> Mutation:
        """`round(n * percent / 100)` of range(n), as an affine permutation's first values:
        membership is O(1) and nothing is stored but three numbers."""
        if not 0 <= percent <= 100:
            raise ValueError("percent must be between 0 and 100")
        r = hash_of(self.seed, tag, generation)
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
            mutation = self._selection(T_MUT, len(self._mutations) + 1, self.size, percent, at)
            self._mutations = (*self._mutations, mutation)
            return mutation

    def mutate_images(self, percent: float, at: datetime | None = None) -> Mutation:
        """Give new images (new bytes, hash and version) to `percent` % of the articles."""
        with self._lock:
            mutation = self._selection(
                T_IMG_MUT, len(self._image_mutations) + 1, self.article_count, percent, at
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


# what the sandboxes and tests import from here, besides the catalogue itself
__all__ = ["ATTRIBUTES", "DEFAULT_SEED", "DEFAULT_VARIATIONS", "ECC_BASE", "PRODUCT_GROUPS",
           "Article", "Catalogue", "Image", "Variation", "channel_store_name", "format_cents",
           "gtin13"]
