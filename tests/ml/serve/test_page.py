"""The web page in a real browser: Debian's Chromium driven by Playwright, against the real
service. Screenshots are kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from ml.config import PrepareParams
from ml.data.images import decode
from ml.onnx_model import read_metadata
from ml.prepare import prepare
from ml.serve.model import load
from ml.serve.page import page_config
from tests.browser import ARTIFACTS, probabilities_on
from tests.serving import linear_model, running_service, write_serve_params

pytestmark = pytest.mark.e2e


def test_digits_page_draws_predicts_and_shows_probabilities(browser, digits_service):
    page = browser.new_page(viewport={"width": 1000, "height": 720})
    page.goto(digits_service)
    assert page.title() == "digits · runwright"
    assert page.locator("#grid div").count() == 64
    page.click("#example")  # a held-out test digit, from the model's metadata
    page.wait_for_function("document.querySelectorAll('.bar-row').length === 10")
    note = re.search(r"true digit: (\d)", page.inner_text("#example-note"))
    assert note, page.inner_text("#example-note")
    truth = note.group(1)
    assert page.inner_text("#prediction") == truth
    shown = probabilities_on(page)
    assert max(shown, key=shown.__getitem__) == truth
    assert sum(shown.values()) == pytest.approx(100, abs=0.6)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-digits.png"), full_page=True)
    # Drawing by hand: clear, then drag down the middle column (a "1"-like stroke).
    page.click("#clear")
    assert page.inner_text("#prediction") == "\u2013"  # en dash: no prediction
    first = page.locator("#grid div").nth(3).bounding_box()
    last = page.locator("#grid div").nth(59).bounding_box()
    page.mouse.move(first["x"] + 5, first["y"] + 5)
    page.mouse.down()
    page.mouse.move(last["x"] + 5, last["y"] + 5, steps=12)
    page.mouse.up()
    page.wait_for_function("document.querySelectorAll('.bar-row').length === 10")
    assert page.inner_text("#prediction") in {str(digit) for digit in range(10)}
    assert page.inner_text("#error") == ""
    page.close()


def test_tabular_page_is_a_form_of_named_features(browser, tabular_onnx, tmp_path):
    params = write_serve_params(tmp_path / "params.yaml", model_name="people")
    ARTIFACTS.mkdir(exist_ok=True)
    with running_service(tabular_onnx, params, tmp_path / "log") as url:
        page = browser.new_page(viewport={"width": 1000, "height": 560})
        page.goto(url)
        names = page.locator("form label").evaluate_all("ls => ls.map(l => l.firstChild.data)")
        assert names == ["age", "income", "city"]
        assert page.locator("select[name=city] option").all_inner_texts() == [
            "Lyon",
            "Nice",
            "Paris",
        ]
        page.fill("input[name=age]", "72")
        page.select_option("select[name=city]", "Nice")
        page.click("#predict")
        page.wait_for_function("document.querySelectorAll('.bar-row').length === 2")
        assert page.inner_text("#prediction") == "senior"
        page.screenshot(path=str(ARTIFACTS / "page-tabular.png"), full_page=True)
        page.fill("input[name=age]", "1e39")  # beyond float32: the service refuses it
        page.click("#predict")
        page.wait_for_function("document.getElementById('error').textContent !== ''")
        assert "the service answered: instances: row 0 holds NaN, infinity" in page.inner_text(
            "#error"
        )
        assert page.inner_text("#prediction") == "\u2013"  # en dash: no prediction
        page.screenshot(path=str(ARTIFACTS / "page-tabular-refused.png"), full_page=True)
        page.close()


def test_image_page_predicts_an_uploaded_or_dropped_image(
    browser, image_service, image_folder, image_onnx
):
    page = browser.new_page(viewport={"width": 1000, "height": 640})
    page.goto(image_service)
    assert page.locator("#grid").count() == 0  # 16 x 16 RGB: an upload, not a drawing grid
    assert page.locator("form").count() == 0
    path = next(image_folder.glob("square/*.png"))
    expected = httpx.post(
        f"{image_service}/v1/models/shapes:predict",
        json={"instances": [{"b64": base64.b64encode(path.read_bytes()).decode()}]},
    ).json()["predictions"][0]
    # Through the file input, as a person choosing a file (CDP DOM.setFileInputFiles).
    page.set_input_files("#file", str(path))
    page.wait_for_function("document.querySelectorAll('.bar-row').length === 3")
    assert page.inner_text("#prediction") == expected["label"] == "square"
    shown = probabilities_on(page)
    for label, probability in expected["probabilities"].items():
        assert shown[label] == pytest.approx(100 * probability, abs=0.051)  # shown to 0.1 %
    assert page.locator("#preview").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-image-upload.png"), full_page=True)
    # Dropped on the drop zone: a real drop event carrying the file.
    page.click("#clear")
    assert page.inner_text("#prediction") == "\u2013"
    circle = next(image_folder.glob("circle/*.jpg"))
    page.evaluate(DROP, base64.b64encode(circle.read_bytes()).decode())
    page.wait_for_function("document.getElementById('prediction').textContent === 'circle'")
    assert page.inner_text("#error") == ""
    # A file that is not an image: a clear message, no prediction.
    page.set_input_files(
        "#file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"}]
    )
    page.wait_for_function("document.getElementById('error').textContent !== ''")
    assert (
        page.inner_text("#error") == "notes.txt is not a PNG or JPEG image; choose an image file."
    )
    assert page.inner_text("#prediction") == "\u2013"
    # A held-out example from the metadata: its PNG file, shown and sent as an encoded image.
    first = read_metadata(image_onnx)["examples"]["images"][0]
    with page.expect_request("**/v1/models/shapes:predict") as sent:
        page.click("#example")
    assert sent.value.post_data_json == {"instances": [{"b64": first}]}
    page.wait_for_function("document.querySelectorAll('.bar-row').length === 3")
    truth = re.search(r"true \S+: (\w+)", page.inner_text("#example-note"))
    assert truth and page.inner_text("#prediction") == truth.group(1)
    assert page.get_attribute("#preview", "src") == f"data:image/png;base64,{first}"
    assert page.locator("#preview").evaluate("image => image.naturalWidth") == 16  # it decoded
    page.screenshot(path=str(ARTIFACTS / "page-image-example.png"), full_page=True)
    page.close()


# Builds the file in the page and dispatches a drop event with it, as a browser does for a file
# dragged from the desktop.
DROP = """(content) => {
  const bytes = Uint8Array.from(atob(content), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], "circle.jpg", { type: "image/jpeg" }));
  const zone = document.getElementById("drop");
  const options = { dataTransfer: transfer, bubbles: true, cancelable: true };
  zone.dispatchEvent(new DragEvent("dragover", options));
  zone.dispatchEvent(new DragEvent("drop", options));
}"""


@pytest.mark.parametrize(
    ("size", "grid"), [([16, 16], True), ([40, 40], False)], ids=["tiny", "larger"]
)
def test_grayscale_image_models_get_an_upload_and_tiny_ones_a_grid(
    image_folder, tmp_path, size, grid
):
    """Which inputs the page offers, from the metadata (no browser needed)."""
    params = PrepareParams(
        source={"images": str(image_folder)}, image={"size": size, "color_mode": "grayscale"}
    )
    prepare(params, tmp_path / "prepared")
    model = load(linear_model(tmp_path / "prepared", tmp_path / "model.onnx"))
    config = page_config(model, "shapes")
    assert (config["grid"], config["upload"], config["features"]) == (grid, True, None)
    assert config["examples"]  # the held-out test images, as PNG files of the model's size
    content = base64.b64decode(config["examples"][0]["b64"])
    assert model.preprocessing is not None
    assert decode(content, model.preprocessing).shape == (*size, 1)


def test_the_bundled_digits_get_a_grid_and_no_upload(digits_onnx):
    config = page_config(load(digits_onnx), "digits")
    assert (config["grid"], config["upload"], config["features"]) == (True, False, None)


def test_the_page_holds_image_examples_up_to_its_byte_budget_and_at_least_one():
    from ml.serve import page

    def examples(count: int, size: int) -> dict:
        return {"images": [str(i) * size for i in range(count)], "targets": list(range(count))}

    assert len(page.image_examples(examples(12, 100))) == page.EXAMPLES_ON_PAGE
    budget = page.EXAMPLE_IMAGE_BYTES
    shown = page.image_examples(examples(8, budget // 3))
    assert [e["target"] for e in shown] == [0, 1, 2]  # a fourth would pass the budget
    assert shown[0] == {"b64": "0" * (budget // 3), "target": 0}
    assert len(page.image_examples(examples(3, budget + 1))) == 1  # one, however large
