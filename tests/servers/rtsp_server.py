"""A real RTSP server on 127.0.0.1 for the tests: GStreamer's gst-rtsp-server.

Run with Debian's python3 (it has ``gi``); the project's own environment never
imports ``gi``. Serves H.264 at rtsp://127.0.0.1:PORT/test, a moving test
pattern by default or, with --video, a file played in a loop. It exits by
itself after --lifetime seconds, so a test that dies never leaves it behind.

    /usr/bin/python3 tests/servers/rtsp_server.py --port 8554 [--video clip.mp4] [--fps 25]
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--video", help="a video file to loop; default: a test pattern")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--lifetime", type=float, default=300.0)
    arguments = parser.parse_args()
    Gst.init(None)
    caps = f"video/x-raw,width={arguments.width},height={arguments.height},framerate={arguments.fps}/1"
    encode = "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 pt=96"
    if arguments.video:
        # multifilesrc with loop=true replays the file forever.
        source = (f"multifilesrc location={arguments.video} loop=true ! decodebin ! videoconvert ! "
                  f"videoscale ! videorate ! {caps} ! ")
    else:
        source = f"videotestsrc is-live=true pattern=ball ! {caps} ! "
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( {source}{encode} )")
    factory.set_shared(True)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(arguments.port))
    server.get_mount_points().add_factory("/test", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{arguments.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    GLib.timeout_add(int(arguments.lifetime * 1000), loop.quit)
    print(f"ready rtsp://127.0.0.1:{arguments.port}/test", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
