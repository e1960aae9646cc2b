"""The dashboard in a real headless browser (chromium), against a service running a file and an RTSP stream."""

from __future__ import annotations

import time

import pytest
from browser import headless_browser, save_screenshot, wait_until
from fakes import FakeClassifier
from rtsp import RtspServer, free_port, needs_server
from videos import write_video

from streamcls.config import Config, InferenceConfig, ServiceConfig, SourceConfig
from streamcls.service.run import Service


def _tiles(driver) -> dict[str, dict[str, str]]:
    """What each tile shows: {source id: {label, state, fps, ...}} read from the DOM."""
    from selenium.webdriver.common.by import By

    shown = {}
    for tile in driver.find_elements(By.CSS_SELECTOR, "article.tile"):
        facts = {part: tile.find_element(By.CSS_SELECTOR, f".{part}").text
                 for part in ("label", "state", "fps", "age", "drops", "frames")}
        facts["error"] = tile.find_element(By.CSS_SELECTOR, ".last-error").text
        facts["runs"] = len(tile.find_elements(By.CSS_SELECTOR, ".timeline span"))
        facts["view"] = tile.find_element(By.CSS_SELECTOR, "img.view").get_property("naturalWidth")
        shown[tile.get_attribute("data-source")] = facts
    return shown


def _labelled(tile: dict) -> bool:
    return tile["state"] == "running" and tile["label"] not in ("", "…", "no label yet") \
        and float(tile["fps"].split()[0]) > 0


@needs_server
def test_the_page_shows_every_camera_live_and_adds_and_removes_one(tmp_path):
    from selenium.webdriver.common.by import By

    clip = write_video(tmp_path / "door.avi", 2000, (160, 120), fps=20, codec="MJPG")
    extra = write_video(tmp_path / "yard.avi", 2000, (160, 120), fps=20, codec="MJPG")
    server = RtspServer(free_port(), fps=15, lifetime=180)
    config = Config(
        sources=(SourceConfig(uri=str(clip), id="door", realtime=True), SourceConfig(uri=server.url, id="street")),
        inference=InferenceConfig(batch_size=4),
        service=ServiceConfig(port=0, allowed_folders=(str(tmp_path),), stream_fps=5),
    )
    try:
        with Service(config, classifier=FakeClassifier()) as service, headless_browser() as driver:
            service.start()
            driver.get(service.url)
            shown = wait_until(lambda: (tiles := _tiles(driver)) and set(tiles) == {"door", "street"}
                               and all(_labelled(tile) for tile in tiles.values()) and tiles,
                               40, "both tiles to show a label, running, at fps > 0")
            # The labels on the page are the service's own.
            for source_id, tile in shown.items():
                label = tile["label"].rsplit(" ", 1)[0]
                assert label in FakeClassifier().spec.classes, (source_id, tile)
            wait_until(lambda: all(tile["view"] > 0 and tile["runs"] > 0 for tile in _tiles(driver).values()),
                       20, "a live picture and a timeline in both tiles")
            assert driver.find_element(By.ID, "status").text == "2 sources, 2 live"

            # A URI that cannot be opened: the error is shown, no tile appears.
            driver.find_element(By.ID, "add-id").send_keys("nowhere")
            driver.find_element(By.ID, "add-uri").send_keys(f"rtsp://127.0.0.1:{free_port()}/none")
            driver.find_element(By.ID, "add-button").click()
            error = wait_until(lambda: driver.find_element(By.ID, "add-error").text, 30, "the add error")
            assert "nowhere" in error and "cannot be opened" in error
            assert "nowhere" not in _tiles(driver)

            # A third camera: its tile appears and goes live.
            driver.find_element(By.ID, "add-id").clear()
            driver.find_element(By.ID, "add-id").send_keys("yard")
            driver.find_element(By.ID, "add-uri").clear()
            driver.find_element(By.ID, "add-uri").send_keys(str(extra))
            driver.find_element(By.ID, "add-button").click()
            wait_until(lambda: "yard" in (tiles := _tiles(driver)) and _labelled(tiles["yard"]), 30,
                       "the added camera's tile, live")
            assert driver.find_element(By.ID, "add-error").text == ""
            assert sorted(service.source_ids()) == ["door", "street", "yard"]
            save_screenshot(driver, "dashboard.png")

            # Removed from the page: the tile goes, and the service stops it.
            yard = driver.find_element(By.CSS_SELECTOR, 'article.tile[data-source="yard"]')
            yard.find_element(By.CSS_SELECTOR, "button.remove").click()
            wait_until(lambda: set(_tiles(driver)) == {"door", "street"}, 20, "the removed tile to go")
            assert sorted(service.source_ids()) == ["door", "street"]
            time.sleep(1.5)  # a poll later, it stays gone
            assert set(_tiles(driver)) == {"door", "street"}
    finally:
        server.stop()


def test_the_page_asks_for_the_token_and_then_shows_the_cameras(tmp_path):
    from selenium.webdriver.common.by import By

    from streamcls.service.auth import load_tokens

    token_file = tmp_path / "token"
    token_file.write_text("a-long-enough-test-token-0123456789\n")
    clip = write_video(tmp_path / "door.avi", 2000, (160, 120), fps=20, codec="MJPG")
    config = Config(sources=(SourceConfig(uri=str(clip), id="door", realtime=True),),
                    service=ServiceConfig(port=0))
    tokens = load_tokens(str(token_file), None, "127.0.0.1", False)
    with Service(config, tokens=tokens, classifier=FakeClassifier()) as service, headless_browser() as driver:
        service.start()
        driver.get(service.url)
        login = wait_until(lambda: (form := driver.find_element(By.ID, "login")).is_displayed() and form, 15,
                           "the token form")
        assert _tiles(driver) == {}  # nothing shown before the token
        driver.find_element(By.ID, "token").send_keys("a-long-enough-test-token-0123456789")
        login.find_element(By.TAG_NAME, "button").click()
        wait_until(lambda: (tiles := _tiles(driver)) and _labelled(tiles.get("door", {"state": ""}))
                   and tiles["door"]["view"] > 0, 30, "the camera after signing in, with its picture")


@pytest.mark.parametrize("hostile", ['<img src=x onerror="window.pwned=1">'])
def test_labels_and_ids_are_shown_as_text_never_as_markup(tmp_path, hostile):
    from selenium.webdriver.common.by import By

    clip = write_video(tmp_path / "door.avi", 2000, (160, 120), fps=20, codec="MJPG")
    config = Config(sources=(SourceConfig(uri=str(clip), id=hostile, realtime=True),),
                    service=ServiceConfig(port=0))
    with Service(config, classifier=FakeClassifier()) as service, headless_browser() as driver:
        service.start()
        driver.get(service.url)
        tile = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "article.tile"), 20, "the tile")[0]
        assert tile.find_element(By.CSS_SELECTOR, ".name").text == hostile
        assert driver.execute_script("return window.pwned === undefined")
