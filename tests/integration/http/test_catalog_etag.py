"""The catalog carries an ETag, and a platform that already holds it gets 304 without a body."""

from __future__ import annotations

from tests.integration.http.conftest import Broker


async def test_the_catalog_has_a_strong_etag_and_asks_caches_to_revalidate(broker: Broker) -> None:
    """A 200 catalog carries a quoted strong ETag and Cache-Control no-cache."""
    response = await broker.osb("GET", "/oauth/v2/catalog")
    assert response.status_code == 200
    etag = response.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert response.headers["cache-control"] == "no-cache"


async def test_if_none_match_with_the_current_etag_gets_304(broker: Broker) -> None:
    """Sending back the ETag, alone, weak, in a list or as ``*``, answers 304 with no body."""
    etag = (await broker.osb("GET", "/oauth/v2/catalog")).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = await broker.osb("GET", "/oauth/v2/catalog", headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag


async def test_a_stale_etag_gets_the_whole_catalog(broker: Broker) -> None:
    """An ETag the broker did not send gets 200 and the same bytes as a plain request."""
    plain = await broker.osb("GET", "/oauth/v2/catalog")
    response = await broker.osb("GET", "/oauth/v2/catalog", headers={"If-None-Match": '"stale"'})
    assert response.status_code == 200
    assert response.content == plain.content
    assert response.json()["services"][0]["name"] == "kymaruntime"


async def test_each_platform_region_has_its_own_etag(broker: Broker) -> None:
    """The EU Access catalog differs from the default one, and so does its ETag: one region's tag never
    turns another region's catalog into a 304."""
    default = await broker.osb("GET", "/oauth/v2/catalog")
    eu_access = await broker.osb("GET", "/oauth/cf-eu11/v2/catalog")
    assert default.content != eu_access.content
    assert default.headers["etag"] != eu_access.headers["etag"]
    response = await broker.osb(
        "GET", "/oauth/cf-eu11/v2/catalog", headers={"If-None-Match": default.headers["etag"]}
    )
    assert response.status_code == 200


async def test_the_version_header_is_checked_before_the_etag(broker: Broker) -> None:
    """Without X-Broker-API-Version even a matching If-None-Match is a 412, as every OSB request."""
    etag = (await broker.osb("GET", "/oauth/v2/catalog")).headers["etag"]
    response = await broker.client.get("/oauth/v2/catalog", headers={"If-None-Match": etag})
    assert response.status_code == 412
