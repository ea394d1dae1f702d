"""The sandbox catalogue's data: product groups, attributes, colours and the records of an
article, a variation, an image and a mutation; the seeded hash every draw comes from; the
images' bytes. `catalogue.Catalogue` computes the records from `(seed, i)`."""

from __future__ import annotations

import hashlib
import struct
import zlib
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
(T_SHAPE, T_ARTICLE, T_COLOUR, T_STOCK, T_PRICE, T_EAN, T_MUT, T_IMG,
 T_IMG_MUT) = range(1, 10)


def mix(x: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def hash_of(*parts: int) -> int:
    acc = 0
    for part in parts:
        acc = mix(acc ^ (part & _MASK))
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
class Shape:
    group: ProductGroup
    colours: int
    size_low: int
    size_count: int


@lru_cache(maxsize=8192)
def image_png(seed: int, ecc: str, position: int, version: int) -> bytes:
    """A small solid-colour PNG whose colour comes from (seed, ecc, position, version)."""
    r = hash_of(seed, T_IMG, int(ecc), position, version)
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
def image_digest(seed: int, ecc: str, position: int, version: int) -> str:
    return hashlib.sha256(image_png(seed, ecc, position, version)).hexdigest()
