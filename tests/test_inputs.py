"""Every input kind, including URLs served by a real HTTP server on loopback."""

import http.server
import threading

import cv2
import images
import numpy as np
import pytest

from pyml.errors import InputError
from pyml.inputs import fetch_url, iter_sources, native_item

release = threading.Event()  # lets the /slow.jpg handler answer


@pytest.fixture(scope="module")
def http_images():
    body = images.jpeg(images.gradient(64, 48))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/ok.jpg":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/huge.jpg":
                self.send_response(200)
                self.send_header("Content-Length", str(10**12))
                self.end_headers()
            elif self.path == "/slow.jpg":
                # Answers only when the test lets it (or after a minute): a fetch that returns
                # before then was ended by its own timeout.
                release.wait(60)
                self.send_response(200)
                self.end_headers()
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", body
    release.set()
    server.shutdown()
    server.server_close()


def names(inputs):
    return [s.name for s in iter_sources(inputs)]


def test_file_directory_dict_list_and_arrays(tmp_path):
    (tmp_path / "b").mkdir()
    for rel in ("a.jpg", "b/c.PNG", "b/d.txt", "e.webp"):
        (tmp_path / rel).write_bytes(b"x")
    arr = np.zeros((4, 4, 3), np.uint8)
    found = names([str(tmp_path), {"img": arr}, arr, tmp_path / "a.jpg"])
    assert found == [
        str(tmp_path / "a.jpg"),
        str(tmp_path / "b" / "c.PNG"),
        str(tmp_path / "e.webp"),
        "<ndarray 0>",
        "<ndarray 1>",
        str(tmp_path / "a.jpg"),
    ]


def test_missing_path_and_empty_directory_fail_alone(tmp_path):
    sources = list(iter_sources([str(tmp_path / "nope.jpg"), str(tmp_path)]))
    assert [s.error.reason for s in sources] == ["not_found", "no_images"]
    assert "nope.jpg" in str(sources[0].error)


@pytest.mark.parametrize("bad", [42, b"\xff\xd8", {"image": "x.jpg"}, None, 3.5])
def test_unsupported_values_raise(bad):
    with pytest.raises(InputError):
        list(iter_sources(bad))


@pytest.mark.skipif(
    hasattr(__import__("os"), "geteuid") and __import__("os").geteuid() == 0,
    reason="root reads files regardless of permissions",
)
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.jpg"
    path.write_bytes(b"x")
    path.chmod(0)
    assert next(iter_sources(str(path))).error.reason == "unreadable"


def test_url_ok(http_images):
    base, body = http_images
    source = next(iter_sources(base + "/ok.jpg"))
    assert source.error is None and source.data == body


@pytest.mark.parametrize("path, message", [("/missing.jpg", "HTTP 404"), ("/huge.jpg", "limit")])
def test_url_failures(http_images, path, message):
    source = fetch_url(http_images[0] + path)
    assert source.error.reason == "download"
    assert message in str(source.error)


def test_url_timeout(http_images):
    source = fetch_url(http_images[0] + "/slow.jpg", timeout=0.3)
    assert source.error.reason == "download" and "timeout" in str(source.error)
    assert not release.is_set()  # the server had not answered: the timeout ended the fetch


def test_other_formats_go_through_opencv():
    bgr = images.gradient(40, 30)[:, :, ::-1]
    for ext in (".bmp", ".webp", ".tiff"):
        _, buf = cv2.imencode(ext, bgr)
        source = next(iter_sources([np.zeros(1)]))  # any source object to fill
        source.data, source.name = buf.tobytes(), "x" + ext
        decoded = native_item(source)
        assert decoded.shape == (30, 40, 3)
    source.data, source.name = b"this is text, not an image", "fake.jpg"
    with pytest.raises(InputError, match=r"fake\.jpg"):
        native_item(source)


def test_every_reason_is_one_enum_that_reads_as_its_string(tmp_path):
    import pyml
    from pyml.errors import Reason

    results = list(pyml.create_pipeline("pyml_demo").predict(str(tmp_path), on_error="return"))
    assert results[0].error.reason is Reason.NO_IMAGES_IN_FOLDER and results[0].error.reason == "no_images"
    assert InputError("x", reason="corrupt").reason is Reason.CORRUPT
    assert InputError("x", reason="something new").reason == "something new"  # a plugin's own kind stays
    assert len({r.value for r in Reason}) == len(Reason)
