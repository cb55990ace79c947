import os
import tempfile

import images
import pytest

from pyml.backends.paddle import import_paddle

# paddle's first import warns about ccache; pyml's entry points import it quietly, and
# so does the suite (whose warnings are errors), before any test imports paddle itself.
import_paddle()

# ONNX conversions and `backend: auto` choices go to a cache of the suite's own, never ~/.cache.
os.environ.setdefault("PYML_CACHE_DIR", tempfile.mkdtemp(prefix="pyml-test-cache-"))


@pytest.fixture(scope="session")
def photos():
    found = images.photos()
    assert len(found) >= 2, "the sample photos from scikit-learn must be installed"
    return found


@pytest.fixture(scope="session")
def exports_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="session")
def lcnet_export(exports_dir):
    """PP-LCNet_x1_0_ML as PaddleX exports it (448x448, seeded random weights), made once."""
    from tools.export_arch import export

    return export("PP-LCNet_x1_0_ML", exports_dir / "PP-LCNet_x1_0_ML", seed=0)


@pytest.fixture(scope="session")
def architecture_export(exports_dir, request):
    """name -> (model dir, input size): PP-LCNet at the official 448, the others at 224 to
    keep the suite fast (same graphs, a quarter of the pixels); each exported once."""
    from tools.export_arch import export

    made = {}

    def get(name: str):
        if name not in made:
            if name == "PP-LCNet_x1_0_ML":
                made[name] = request.getfixturevalue("lcnet_export"), 448
            else:
                made[name] = export(name, exports_dir / f"{name}-224", seed=1, size=224), 224
        return made[name]

    return get


@pytest.fixture(scope="module")
def demo_pipeline():
    """The embedded demo model's pipeline (offline, fast to load)."""
    import pyml

    return pyml.create_pipeline()


@pytest.fixture(scope="session")
def lcnet_pipeline(lcnet_export):
    import pyml

    # Paddle itself: the tests that use it check the pipeline against direct Paddle runs.
    return pyml.create_pipeline(
        model_dir=str(lcnet_export), model_name="PP-LCNet_x1_0_ML", batch_size=4, backend="paddle"
    )


@pytest.fixture
def client(server):
    """A pyml gRPC client of the `server` fixture that the test module defines."""
    from pyml.serving import Client

    with Client(server.target, timeout=60) as c:
        yield c


# Exporting an architecture (build, calibrate, save) takes 30 s to several minutes, so
# every test that needs one is in the slow tier without having to say so.
_EXPORT_FIXTURES = {"architecture_export", "lcnet_export", "lcnet_pipeline"}


def pytest_collection_modifyitems(items):
    for item in items:
        if _EXPORT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def browser():
    """A fresh headless Chromium per test (skipped, with the reason, where it is missing)."""
    from browser import Browser, require_browser

    require_browser()
    b = Browser()
    yield b
    b.quit()
