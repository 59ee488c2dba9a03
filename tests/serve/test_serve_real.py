"""fmnist-serve with the tutorial CNN on the real test images: over HTTP, and in a real browser.

The browser is Debian's Chromium driven by its own chromedriver through Selenium (make test
installs both); Selenium gets both paths, so it never looks for, or downloads, a browser.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

from fmnist_edge.runtime.atomic import write_bytes
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.dataset import load_fashion_mnist
from fmnist_edge.runtime.images import decode_image
from tests.runtime.photos import render

from .images import png

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "reports" / "serve-page.png"


@pytest.fixture(scope="module")
def test_images():
    data = load_fashion_mnist()
    return data.x_test[:300], data.y_test[:300]


def test_real_images_over_http_get_the_classifier_answers(tutorial_export, test_images,
                                                          start_server):
    images, labels = test_images
    direct = Classifier.load(tutorial_export.out_dir)
    server = start_server(str(tutorial_export.out_dir))
    bodies = [png(image) for image in images]
    with httpx.Client(base_url=server.url, timeout=60) as c:
        singles = [c.post("/v1/classify", content=b, headers={"Content-Type": "image/png"})
                   .json()["results"][0]["index"] for b in bodies[:100]]
        form = c.post("/v1/classify", files=[("f", (f"{i}.png", b, "image/png"))
                                             for i, b in enumerate(bodies[100:164])])
    want = [g[0].index for g in direct.classify(np.stack([decode_image(b, "x") for b in bodies]))]
    assert singles == want[:100]
    assert [r["index"] for r in form.json()["results"]] == want[100:164]
    assert np.mean(np.array(want) == labels) > 0.85  # the dataset's own images: the model's accuracy


def _chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary and driver, "Chromium is missing: make browser (apt-get install chromium chromium-driver)"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=480,900", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def test_the_page_in_headless_chromium_shows_the_right_label(tutorial_export, test_images,
                                                             start_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    images, labels = test_images
    direct = Classifier.load(tutorial_export.out_dir)
    photo = tmp_path / "photo.jpg"  # a dark garment on a light table, 200 px, as a phone sees it
    index = next(i for i in range(len(images))
                 if direct.classify(decode_image(render(images[i], 200, (40, 20), "jpeg"), "p")[None])
                 [0][0].index == labels[i] and labels[i] != 0)
    photo.write_bytes(render(images[index], 200, (40, 20), "jpeg"))
    want = direct.labels[int(labels[index])]
    server = start_server(str(tutorial_export.out_dir))
    browser = _chromium()
    try:
        browser.get(server.url)
        browser.find_element(By.ID, "file").send_keys(str(photo))
        WebDriverWait(browser, 30).until(
            lambda b: b.execute_script("return document.body.dataset.state") == "done"
            or b.find_element(By.ID, "error").is_displayed())
        assert not browser.find_element(By.ID, "error").is_displayed(), \
            browser.find_element(By.ID, "error").text
        assert browser.find_element(By.ID, "label").text == want
        assert len(browser.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 3
        assert "server" in browser.find_element(By.ID, "time").text
        drawn = browser.execute_script(
            "return Array.from(document.getElementById('seen').getContext('2d')"
            ".getImageData(0, 0, 28, 28).data.filter((v, i) => i % 4 == 0));")
        seen = decode_image(photo.read_bytes(), "p").ravel().tolist()
        assert drawn == seen  # the canvas shows exactly the 28×28 the model was given
        SCREENSHOT.parent.mkdir(exist_ok=True)
        write_bytes(SCREENSHOT, browser.get_screenshot_as_png())
    finally:
        browser.quit()
