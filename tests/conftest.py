import pytest

import images


@pytest.fixture(scope="session")
def photos():
    found = images.photos()
    assert len(found) >= 2, "the sample photos from scikit-learn must be installed"
    return found
