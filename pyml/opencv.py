"""OpenCV, imported in one place: pyml reports a picture it cannot read in its own words,
so OpenCV's own log lines (`[ WARN:0@0.020] global loadsave.cpp ... findDecoder`) are
silenced once, here, before any call."""

from __future__ import annotations

import functools

LOG_LEVEL_SILENT = 0  # cv2.utils.logging.LOG_LEVEL_SILENT; that submodule is missing from some wheels


@functools.cache
def cv2():
    import cv2 as opencv

    opencv.setLogLevel(LOG_LEVEL_SILENT)
    return opencv


__all__ = ["cv2"]
