"""The seeded catalogue generator both sandboxes build on."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from sandboxes.catalogue import ATTRIBUTES, PRODUCT_GROUPS, Catalogue, Variation, gtin13


def _fingerprint(v: Variation) -> tuple[object, ...]:
    return (v.spocc_id, v.ean, v.stock, v.retail_cents, v.target_cents, v.rrp_cents,
            v.colour_code, v.article_number)


def test_same_seed_gives_the_same_catalogue() -> None:
    a, b = Catalogue(2_000, seed=7), Catalogue(2_000, seed=7)
    assert [_fingerprint(v) for v in a.variations()] == [_fingerprint(v) for v in b.variations()]
    assert list(a.articles()) == list(b.articles())


def test_another_seed_gives_other_stock_and_prices() -> None:
    a, b = Catalogue(2_000, seed=7), Catalogue(2_000, seed=8)
    differing = sum(
        1 for x, y in zip(a.variations(), b.variations(), strict=True)
        if (x.stock, x.retail_cents) != (y.stock, y.retail_cents)
    )
    assert differing > 1_000


def test_default_catalogue_has_16000_variations_with_unique_ascending_spocc_ids() -> None:
    catalogue = Catalogue()
    ids = [v.spocc_id for v in catalogue.variations()]
    assert len(ids) == len(catalogue) == 16_000
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for v in catalogue.variations(0, 500):
        assert len(v.spocc_id) == 11 and v.spocc_id.isdigit()
        assert v.spocc_id == v.ecc + v.size_number and len(v.ecc) == 8
        assert len(v.stock) == len(catalogue.channel_stores)


def test_index_of_finds_every_variation_and_rejects_strangers() -> None:
    catalogue = Catalogue(3_000, seed=2)
    for v in catalogue.variations():
        assert catalogue.index_of(v.spocc_id) == v.index
    last = catalogue.variation(len(catalogue) - 1)
    assert catalogue.index_of("12345") is None
    assert catalogue.index_of("0000000A000") is None
    assert catalogue.index_of(last.ecc + "999") is None
    assert catalogue.index_of(f"{int(last.ecc) + 10:08d}" + last.size_number) is None


def test_articles_hold_their_colours_and_variations_in_order() -> None:
    catalogue = Catalogue(1_000, seed=4)
    seen = 0
    for article in catalogue.articles():
        assert 1 <= len(article.colours) <= 4
        assert article.product_group in PRODUCT_GROUPS
        valid_values = {val.id for attr in ATTRIBUTES for val in attr.values}
        assert all(value in valid_values for _, value in article.attributes)
        variations = catalogue.article_variations(article.index)
        assert len(variations) == article.variation_count
        assert sum(c.size_count for c in article.colours) == article.variation_count
        for v in variations:
            assert v.index == seen and v.article_number == article.article_number
            assert v.ecc == article.colours[v.colour_position].ecc
            seen += 1
        for colour in article.colours:
            assert 1 <= len(colour.images) <= 3
            assert all(i.content_hash.startswith("sha256:") for i in colour.images)
    assert seen == len(catalogue)


def test_eans_carry_a_valid_check_digit_and_prices_are_consistent() -> None:
    catalogue = Catalogue(2_000, seed=5)
    with_ean = [v for v in catalogue.variations() if v.ean is not None]
    assert len(with_ean) > 1_900
    for v in with_ean:
        assert v.ean is not None and len(v.ean) == 13 and gtin13(v.ean[:12]) == v.ean
    for v in catalogue.variations():
        assert v.retail_cents % 100 == 95 and v.rrp_cents >= v.retail_cents
        assert v.target_cents is None or v.target_cents < v.retail_cents


def test_mutate_changes_exactly_the_asked_share_and_stamps_it() -> None:
    catalogue = Catalogue(10_000, seed=6)
    before = {v.index: (v.stock, v.retail_cents) for v in catalogue.variations()}
    at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    mutation = catalogue.mutate(2.5, at=at)
    assert mutation.count == 250 and mutation.generation == 1
    changed = catalogue.changed_indices(since=at)
    assert len(changed) == 250
    assert all(catalogue.variation(i).changed_at == at for i in changed)
    unchanged = set(range(10_000)) - set(changed)
    assert all(catalogue.variation(i).changed_at == catalogue.created_at for i in
               list(unchanged)[:500])
    really_different = sum(
        1 for i in changed
        if (catalogue.variation(i).stock, catalogue.variation(i).retail_cents) != before[i]
    )
    assert really_different > 240  # a redraw may by chance give the same numbers


def test_mutations_are_deterministic_per_generation() -> None:
    a, b = Catalogue(5_000, seed=9), Catalogue(5_000, seed=9)
    t = datetime(2026, 6, 1, tzinfo=UTC)
    for n in range(3):
        a.mutate(4, at=t + timedelta(minutes=n))
        b.mutate(4, at=t + timedelta(minutes=n))
    assert a.changed_indices(since=t) == b.changed_indices(since=t)
    assert [_fingerprint(v) for v in a.variations()] == [_fingerprint(v) for v in b.variations()]
    first = set(a.changed_indices(t, t + timedelta(minutes=1)))
    third = set(a.changed_indices(since=t + timedelta(minutes=2)))
    assert first != third and len(third) == 200


def test_a_window_lists_what_changed_in_it_even_if_changed_again_later() -> None:
    catalogue = Catalogue(4_000, seed=10)
    t1 = datetime(2026, 6, 1, tzinfo=UTC)
    t2 = t1 + timedelta(hours=1)
    catalogue.mutate(20, at=t1)
    early = catalogue.changed_indices(t1, t2)
    catalogue.mutate(20, at=t2)
    # The window [t1, t2) is closed: a later change does not alter what it selects.
    assert catalogue.changed_indices(t1, t2) == early and len(early) == 800
    late = set(catalogue.changed_indices(t2))
    assert len(late) == 800
    assert set(early) | late == set(catalogue.changed_indices(t1))
    again = set(early) & late
    assert all(catalogue.changed_at(i) == t2 for i in again)
    assert catalogue.changed_indices(None, t2) == list(range(4_000))  # creation is a change
    assert catalogue.changed_indices(None, catalogue.created_at) == []


def test_a_million_variations_stream_without_memory_growth() -> None:
    catalogue = Catalogue(1_000_000, seed=1)
    assert catalogue.variation(999_999).index == 999_999
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        count = 0
        for v in catalogue.variations(980_000, 1_000_000):
            count += 1
            last = v
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000 and last.index == 999_999
    # 20,000 variations held at once would take about ten megabytes; streaming holds one.
    assert peak - baseline < 256 * 1024


def test_rejects_an_empty_catalogue() -> None:
    with pytest.raises(ValueError):
        Catalogue(0)


def test_image_mutation_changes_hash_and_version_of_exactly_the_chosen_articles() -> None:
    catalogue = Catalogue(5_000, seed=11)
    before = {a.index: a.colours[0].images[0] for a in catalogue.articles()}
    at = datetime(2026, 7, 1, tzinfo=UTC)
    mutation = catalogue.mutate_images(10, at=at)
    changed = list(catalogue.articles_changed_within(at, None))
    assert len(changed) == mutation.count == round(catalogue.article_count / 10)
    for article in catalogue.articles():
        image = article.colours[0].images[0]
        if article.index in changed:
            assert image.version == 2 and image.content_hash != before[article.index].content_hash
            assert article.changed_at == at
        else:
            assert image == before[article.index]
            assert article.changed_at == catalogue.created_at
    assert catalogue.changed_indices(since=at) == []  # stock and prices untouched
