"""Tests of skelgnn.video.viewer and ``skelgnn view``: the HTML file's content and the data embedded in
it, and -- in a ``slow`` test that ``make test-browser`` (CI) runs -- the page itself in real
headless Chromium, opened from file:// with the network off, driven through the DevTools
protocol."""
from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

from skelgnn.cli import main
from skelgnn.skeleton import H36M17
from skelgnn.video.viewer import (THREE_VERSION, FrameSampler, ViewerImages, load_viewer_npz,
                            write_viewer, write_viewer_from_npz)

REPO = Path(__file__).resolve().parents[2]
RESOURCES = REPO / "src" / "skelgnn" / "resources"

# A standing figure in the world frame (metres, y up, facing +z), Human3.6M-17 order.
STANDING = np.array([
    [0.00, 0.95, 0.00], [-0.13, 0.95, 0.00], [-0.14, 0.52, 0.02], [-0.15, 0.08, 0.00],
    [0.13, 0.95, 0.00], [0.14, 0.52, 0.02], [0.15, 0.08, 0.00], [0.00, 1.18, 0.00],
    [0.00, 1.45, 0.00], [0.00, 1.55, 0.05], [0.00, 1.68, 0.02], [0.18, 1.42, 0.00],
    [0.22, 1.15, 0.00], [0.24, 0.90, 0.03], [-0.18, 1.42, 0.00], [-0.22, 1.15, 0.00],
    [-0.24, 0.90, 0.03]])


def walking(frames: int = 40) -> np.ndarray:
    """``(F, 17, 3)``: the standing figure stepping sideways along +x, its forearms and shins
    swinging back and forth."""
    poses = np.repeat(STANDING[None], frames, axis=0)
    t = np.arange(frames)
    phase = np.sin(2 * math.pi * t / 20)
    poses[:, :, 0] += 0.02 * t[:, None]  # 2 cm per frame
    for joint, sign in ((13, 1), (16, -1), (3, -1), (6, 1)):  # wrists, ankles
        poses[:, joint, 2] += sign * 0.25 * phase
    return poses


def keypoints_of(poses: np.ndarray, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A front view of the poses in pixels (x right, y down)."""
    w, h = size
    return np.stack([w / 2 + 200 * poses[..., 0], h - 40 - 200 * poses[..., 1]], axis=-1)


class _Page(HTMLParser):
    """The tags of a page and the text of its scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, Optional[str]]]] = []
        self.scripts: list[tuple[dict[str, Optional[str]], str]] = []
        self._in_script: Optional[dict[str, Optional[str]]] = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def read_page(path: Path) -> tuple[_Page, dict[str, Any]]:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    data = [text for attrs, text in page.scripts if attrs.get("id") == "motion-data"]
    assert len(data) == 1
    return page, json.loads(data[0])


def test_write_viewer_embeds_everything_and_fetches_nothing(tmp_path):
    poses = walking(30)
    kp = keypoints_of(poses)
    kp[4, 13] = np.nan  # a joint the detector never saw
    filled = np.zeros((30, 17), bool)
    filled[4, 13] = True
    out = write_viewer(poses, tmp_path / "motion.html", fps=25.0, keypoints_2d=kp,
                       image_size=(640, 480), filled=filled, title="walk </script> <!--<script> <b>")
    page, data = read_page(out)
    # self-contained: no external script, stylesheet, image or frame; three.js is inlined
    assert all("src" not in attrs and "href" not in attrs for _, attrs in page.tags), page.tags
    assert not any(tag in ("link", "img", "iframe") for tag, _ in page.tags)
    bundle = (RESOURCES / "three.min.js").read_text(encoding="utf-8")
    assert any(text == bundle for _, text in page.scripts)
    assert len(page.scripts) == 3  # three.js, the data, the viewer
    # the motion: millimetres, as integers
    assert data["frames"] == 30 and data["fps"] == 25.0 and data["world"] is True
    np.testing.assert_array_equal(np.array(data["poses"]).reshape(30, 17, 3),
                                  np.round(poses * 1000).astype(int))
    assert data["names"] == list(H36M17.names) and data["parents"] == list(H36M17.parents)
    assert data["left"] == [4, 5, 6, 11, 12, 13] and data["right"] == [1, 2, 3, 14, 15, 16]
    flat_kp = data["keypoints"]
    assert flat_kp[(4 * 17 + 13) * 2] is None and flat_kp[(4 * 17 + 13) * 2 + 1] is None
    assert flat_kp[0] == round(kp[0, 0, 0]) and data["image_size"] == [640.0, 480.0]
    assert data["filled"][4 * 17 + 13] == 1 and sum(data["filled"]) == 1
    assert data["title"] == "walk </script> <!--<script> <b>"  # escaped as JSON, not ending the script early
    assert data["images"] is None and data["frame_ids"] is None


def test_write_viewer_without_keypoints_and_camera_frame(tmp_path):
    out = write_viewer(walking(3), tmp_path / "m.html", world=False)
    _, data = read_page(out)
    assert data["keypoints"] is None and data["world"] is False and data["frames"] == 3


def test_write_viewer_refuses_bad_input(tmp_path):
    out = tmp_path / "m.html"
    with pytest.raises(ValueError, match=r"poses must be \(F, 17, 3\)"):
        write_viewer(np.zeros((5, 16, 3)), out)
    with pytest.raises(ValueError, match=r"poses must be \(F, 17, 3\) with F >= 1"):
        write_viewer(np.zeros((0, 17, 3)), out)
    bad = walking(4)
    bad[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_viewer(bad, out)
    with pytest.raises(ValueError, match="fps"):
        write_viewer(walking(4), out, fps=0.0)
    with pytest.raises(ValueError, match="need the image size"):
        write_viewer(walking(4), out, keypoints_2d=keypoints_of(walking(4)))
    with pytest.raises(ValueError, match=r"keypoints_2d must be \(4, 17, 2\)"):
        write_viewer(walking(4), out, keypoints_2d=np.zeros((3, 17, 2)), image_size=(10, 10))
    assert not out.exists()


def test_the_bundle_is_the_pinned_three_js_with_its_licence():
    bundle = (RESOURCES / "three.min.js").read_text(encoding="utf-8")
    assert bundle.startswith(f"/* three.js {THREE_VERSION} ")
    assert "var THREE=" in bundle
    assert not any(s in bundle.lower() for s in ("</script", "<!--", "<script"))  # safe inline
    pinned = json.loads((REPO / "vendor" / "three" / "package.json").read_text())
    assert pinned["dependencies"]["three"] == THREE_VERSION
    licence = (RESOURCES / "three.LICENSE.txt").read_text(encoding="utf-8")
    assert "The MIT License" in licence and "three.js authors" in licence


def test_frame_sampler_keeps_evenly_spaced_frames():
    from PIL import Image

    sampler = FrameSampler(max_images=10, image_height=32)
    for i in range(1000):  # frame i: grey level i % 256, 64 x 48 pixels
        sampler.offer(np.full((64, 48, 3), i % 256, np.uint8))
    images = sampler.images()
    assert images.every == 128 and len(images.jpeg) == 8  # frames 0, 128, ..., 896
    for k, jpeg in enumerate(images.jpeg):
        im = Image.open(io.BytesIO(jpeg))
        assert im.size == (24, 32)
        assert abs(np.asarray(im).mean() - (k * images.every) % 256) < 3
    short = FrameSampler(max_images=10)
    for i in range(7):
        short.offer(np.zeros((8, 8, 3), np.uint8))
    assert short.images().every == 1 and len(short.images().jpeg) == 7
    with pytest.raises(ValueError, match="max_images"):
        FrameSampler(max_images=0)
    with pytest.raises(ValueError, match="every"):
        ViewerImages((), every=0)


def _poses_npz(path: Path, frames: int = 12, world: bool = True) -> Path:
    poses = walking(frames)
    arrays = {"poses_3d": (poses - poses[:, :1]) * np.array([1, -1, -1]),
              "keypoints_2d": keypoints_of(poses), "image_size": np.array([640.0, 480.0]),
              "fps": np.array(50.0), "filled": np.zeros((frames, 17), bool),
              "frames": np.arange(frames) + 3}
    if world:
        arrays["poses_world"] = poses
    np.savez(path, **arrays)
    return path


def test_view_command_writes_the_viewer_of_an_npz(tmp_path, capsys):
    npz = _poses_npz(tmp_path / "poses_3d.npz")
    out = tmp_path / "motion.html"
    assert main(["view", str(npz), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    _, data = read_page(out)
    assert data["world"] is True and data["fps"] == 50.0 and data["title"] == "poses_3d.npz"
    np.testing.assert_array_equal(np.array(data["poses"]).reshape(12, 17, 3),
                                  np.round(walking(12) * 1000).astype(int))
    assert data["frame_ids"] == list(range(3, 15)) and data["image_size"] == [640.0, 480.0]
    # without poses_world: the camera-frame poses turned y-up, and the page says so
    kwargs = load_viewer_npz(_poses_npz(tmp_path / "camera.npz", world=False))
    assert kwargs["world"] is False
    np.savez(tmp_path / "nofps.npz", poses_world=walking(2), fps=np.array(0.0))
    assert load_viewer_npz(tmp_path / "nofps.npz")["fps"] == 30.0
    np.testing.assert_allclose(kwargs["poses"][:, 10] - kwargs["poses"][:, 0],
                               walking(12)[:, 10] - walking(12)[:, 0], atol=1e-9)


def test_view_command_errors_are_one_line(tmp_path, capsys):
    npz = _poses_npz(tmp_path / "p.npz")
    assert main(["view", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "m.html")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: poses file not found: {tmp_path / 'missing.npz'}"]
    assert main(["view", str(npz), "--out", str(tmp_path / "m.png")]) == 2
    assert "name it FILE.html" in capsys.readouterr().err
    assert main(["view", str(npz), "--out", str(tmp_path / "m.html"), "--video",
                 str(tmp_path / "none.mp4")]) == 2
    assert "video not found" in capsys.readouterr().err
    assert not (tmp_path / "m.html").exists()


def test_viewer_with_video_frames(tmp_path):
    iio2 = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    clip = tmp_path / "clip.mp4"
    writer = iio2.get_writer(str(clip), format="FFMPEG", fps=10, codec="libx264",
                             macro_block_size=2, ffmpeg_log_level="error")
    for i in range(16):
        writer.append_data(np.full((48, 64, 3), 15 * i, np.uint8))
    writer.close()
    npz = _poses_npz(tmp_path / "p.npz", frames=12)  # video frames 3 .. 14
    out = write_viewer_from_npz(npz, tmp_path / "m.html", video=clip, max_images=4)
    _, data = read_page(out)
    images = data["images"]
    assert images["every"] == 4 and len(images["jpeg"]) == 4  # frames 0, 4, 8, 12 of 0 .. 14
    from PIL import Image

    grey = [np.asarray(Image.open(io.BytesIO(base64.b64decode(b)))).mean() for b in images["jpeg"]]
    np.testing.assert_allclose(grey, [0, 60, 120, 180], atol=6)


# --------------------------------------------------------------------------------------------
# The page in real headless Chromium
# --------------------------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BACKGROUND = np.array([0xf7, 0xf8, 0xfa])


def _browser() -> Optional[str]:
    """Chromium's executable; without one the browser test skips, unless SKELGNN_BROWSER_TEST=1
    (``make test-browser``, which installs it) makes it fail."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("SKELGNN_BROWSER_TEST") == "1":
        raise AssertionError(f"no browser found ({', '.join(BROWSERS)}); `make test-browser` "
                             "installs Debian's chromium")
    return None


class DevTools:
    """The smallest client of the Chrome DevTools protocol: commands over one websocket, with
    every event kept in ``events``."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self._id = 0

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def screenshot(self) -> np.ndarray:
        from PIL import Image

        png = base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)

    def close(self) -> None:
        self.ws.close()


def _launch(exe: str, profile: Path) -> tuple[subprocess.Popen, str]:
    """Headless Chromium with a DevTools port, no network (a dead proxy for everything), WebGL in
    software (SwiftShader); returns the process and the first page's websocket URL."""
    proc = subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "--window-size=1280,720", "--force-device-scale-factor=1", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--disable-component-update", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    end = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            raise AssertionError(f"{exe} did not start (exit {proc.poll()})")
        time.sleep(0.1)
    port = int(port_file.read_text().split()[0])
    end = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            pages = [t for t in json.load(resp) if t["type"] == "page"]
        if pages or time.monotonic() > end:
            break
        time.sleep(0.1)
    assert pages, "no page target"
    return proc, pages[0]["webSocketDebuggerUrl"]


def _coloured(shot: np.ndarray, xy: list[float], colour: str, radius: int = 4) -> bool:
    """Whether a pixel within ``radius`` of ``xy`` is clearly ``colour`` (left blue / right red)
    or, for ``"any"``, clearly not the page's background."""
    x, y = round(xy[0]), round(xy[1])
    patch = shot[max(0, y - radius): y + radius + 1, max(0, x - radius): x + radius + 1]
    r, g, b = patch[..., 0], patch[..., 1], patch[..., 2]
    if colour == "blue":
        return bool(((b - r > 60) & (b - g > 30)).any())
    if colour == "red":
        return bool(((r - b > 60) & (r - g > 60)).any())
    return bool((np.abs(patch - BACKGROUND).max(-1) > 60).any())


def _save_png(shot: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(shot.astype(np.uint8)).save(path)


@pytest.mark.slow
def test_viewer_in_headless_chromium(tmp_path):
    """Opened from file:// with the network off: no console error and no request beyond the file;
    three.js loads; the 3D canvas draws every joint where the page projects it (left joints blue,
    right red) and so does the 2D view; a new frame draws a different picture, and so does
    playing."""
    exe = _browser()
    if exe is None:
        pytest.skip("no chromium (make test-browser installs it)")
    poses = walking(40)
    page_file = write_viewer(poses, tmp_path / "motion.html", fps=20.0,
                             keypoints_2d=keypoints_of(poses), image_size=(640, 480), title="walk")
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
    proc, ws_url = _launch(exe, profile)
    tools = DevTools(ws_url)
    try:
        for domain in ("Runtime", "Log", "Page", "Network"):
            tools.send(f"{domain}.enable")
        tools.send("Network.emulateNetworkConditions", offline=True, latency=0,
                   downloadThroughput=-1, uploadThroughput=-1)
        tools.send("Emulation.setDeviceMetricsOverride", width=1280, height=720,
                   deviceScaleFactor=1, mobile=False)
        tools.send("Page.navigate", url=page_file.as_uri())
        tools.wait_for("document.readyState === 'complete' && window.skelgnnViewer && "
                       "window.skelgnnViewer.ready")
        assert tools.evaluate("window.skelgnnViewer.revision") == THREE_VERSION.split(".")[1]
        assert tools.evaluate("window.skelgnnViewer.frames") == 40

        def shown(frame: int) -> tuple[np.ndarray, list, list]:
            renders = tools.evaluate(f"window.skelgnnViewer.setFrame({frame}); "
                                     "window.skelgnnViewer.renders")
            tools.wait_for(f"window.skelgnnViewer.renders > {renders}")
            return (tools.screenshot(), tools.evaluate("window.skelgnnViewer.joints3d()"),
                    tools.evaluate("window.skelgnnViewer.joints2d()"))

        shot0, joints3d, joints2d = shown(0)
        _save_png(shot0, tmp_path / "frame0.png")  # kept for a look when the test fails
        assert shot0.shape[:2] == (720, 1280)
        colour = {j: "blue" for j in H36M17.joints_left} | {j: "red" for j in H36M17.joints_right}
        for j, xy in enumerate(joints3d):  # every joint drawn where the camera projects it
            assert 0 <= xy[0] < 1280 and 0 <= xy[1] < 720, (j, xy)
            assert _coloured(shot0, xy, colour.get(j, "any")), (j, H36M17.names[j], xy)
        for j, xy in enumerate(joints2d):
            assert _coloured(shot0, xy, colour.get(j, "any")), ("2d", j, xy)
        shot20, moved3d, _ = shown(20)
        assert np.abs(np.array(moved3d) - np.array(joints3d)).max() > 5  # pixels
        changed = np.abs(shot20 - shot0).max(-1) > 40
        assert changed.sum() > 500, changed.sum()
        # playing: the frame advances on its own and the picture follows
        tools.evaluate("window.skelgnnViewer.play()")
        tools.wait_for("window.skelgnnViewer.frame >= 25", timeout=10)
        assert tools.evaluate("window.skelgnnViewer.playing") is True
        playing = tools.screenshot()
        _save_png(playing, tmp_path / "playing.png")
        assert (np.abs(playing - shot20).max(-1) > 40).sum() > 500
        tools.evaluate("window.skelgnnViewer.pause()")
        # nothing went wrong and nothing was fetched
        errors = [e for e in tools.events if e["method"] == "Runtime.exceptionThrown"
                  or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
                  or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
        assert errors == []
        urls = [e["params"]["request"]["url"] for e in tools.events
                if e["method"] == "Network.requestWillBeSent"]
        assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls
    finally:
        tools.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
