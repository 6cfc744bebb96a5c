"""srbench.console: the mode a stream gets, plain lines, the heartbeat (a fake clock, never a sleep), bars."""

from __future__ import annotations

import io

import pytest

from srbench.console import Console, format_duration, format_metrics, format_table, format_value


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    """A stream that says it is a terminal (tqdm draws on it)."""

    def isatty(self) -> bool:
        return True


def plain(clock: FakeClock | None = None, **kw: object) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(stream=out, clock=clock or FakeClock(), heartbeat_thread=False, **kw), out  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "text"), [(4.21, "4.2 s"), (62, "1:02"), (42002, "11:40:02"),
                                               (float("inf"), "?"), (-1, "?")])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_values_and_metrics() -> None:
    assert format_value(28.41938) == "28.4194"
    assert format_value(0.000123456) == "0.0001235"  # a small loss keeps its digits
    assert format_value(float("inf")) == "inf"
    assert format_metrics({"psnr": 28.4, "ssim": 0.81}) == "psnr 28.4000 · ssim 0.8100"


def test_the_mode_follows_the_stream_and_the_flags() -> None:
    assert Console(stream=io.StringIO()).mode == "plain"  # CI, Slurm, a pipe
    assert Console(stream=Terminal()).mode == "bars"
    assert Console(stream=Terminal(), progress=False).mode == "plain"  # --no-progress
    assert Console(stream=Terminal(), quiet=True).mode == "quiet"
    with pytest.raises(ValueError, match="console mode"):
        Console("fancy")


def test_plain_results_are_one_line_per_model_with_means_and_time() -> None:
    console, out = plain()
    console.results("set5 x4", {"bicubic": {"psnr": 28.42, "ssim": 0.8104}, "srgan": {"psnr": 26.0, "ssim": 0.7}},
                    n_images=5, seconds={"bicubic": 0.31, "srgan": 75.0})
    assert out.getvalue().splitlines() == [
        "set5 x4 · bicubic · psnr 28.4200 · ssim 0.8104 · 5 images · 0.3 s",
        "set5 x4 · srgan · psnr 26.0000 · ssim 0.7000 · 5 images · 1:15",
    ]


def test_the_table_aligns_models_and_marks_a_missing_metric() -> None:
    text = format_table("set14 x4", {"bicubic": {"psnr": 26.0884, "ssim": 0.7048}, "x": {"psnr": 1.0}}, n_images=14,
                        seconds={"bicubic": 1.0})
    lines = text.splitlines()
    assert lines[0] == "set14 x4 · 14 images"
    assert lines[1].split() == ["model", "psnr", "ssim", "time"]
    assert lines[2].split() == ["bicubic", "26.0884", "0.7048", "1.0", "s"]
    assert lines[3].split() == ["x", "1.0000", "-", "-"]
    assert len({len(line) for line in lines[1:3]}) == 1  # aligned columns


def test_quiet_keeps_only_errors() -> None:
    console, out = plain(quiet=True)
    console.say("warning: something")
    console.info("set5 x4 · bicubic · psnr 1")
    console.results("set5 x4", {"bicubic": {"psnr": 1.0}}, n_images=1)
    console.say("error: model x failed")
    console.say("interrupted: 3 rows kept")
    assert out.getvalue().splitlines() == ["error: model x failed", "interrupted: 3 rows kept"]
    with console.task("set5 x4", 3) as task:
        task.advance()
    assert console.tick() is False


def test_the_heartbeat_speaks_only_after_30_s_of_silence() -> None:
    clock = FakeClock()
    console, out = plain(clock)
    assert console.tick() is False  # no task: nothing to say
    task = console.task("set14 x4", 14, unit="img", detail="srgan · 2/3 models")
    task.advance(6)
    clock.now += 29.9
    assert console.tick() is False
    clock.now += 0.2
    assert console.tick() is True
    beat = "... set14 x4 · srgan · 2/3 models · 6/14 img · 30.1 s elapsed · eta 40.1 s"
    assert out.getvalue().splitlines()[-1] == beat
    clock.now += 10
    assert console.tick() is False  # at most one line per 30 s
    console.info("a line resets the silence")
    clock.now += 25
    assert console.tick() is False
    clock.now += 5
    assert console.tick() is True
    task.close()
    clock.now += 100
    assert console.tick() is False  # no task running: no heartbeat
    assert sum(line.startswith("...") for line in out.getvalue().splitlines()) == 2


def test_the_heartbeat_thread_stops_with_its_task() -> None:
    out = io.StringIO()
    console = Console(stream=out, heartbeat_s=0.0)  # every poll is "30 s later"
    task = console.task("b100 x4", 100, unit="img")
    task.closed.wait(0.3)
    task.close()
    assert not task._thread.is_alive()  # type: ignore[union-attr]
    assert out.getvalue().startswith("... b100 x4 · 0/100 img")
    n = len(out.getvalue())
    task.closed.wait(0.3)
    assert len(out.getvalue()) == n


def test_a_resumed_task_counts_its_eta_from_the_steps_it_ran() -> None:
    clock = FakeClock()
    console, _ = plain(clock)
    task = console.task("srresnet x4", 1000, unit="step", initial=900)
    task.advance(50)
    clock.now += 50
    assert task.status().endswith("950/1000 step · 50.0 s elapsed · eta 50.0 s")


def test_bars_name_the_running_model_and_stay_as_one_finished_line() -> None:
    out = Terminal()
    console = Console(stream=out)
    task = console.task("set14 x4", 2, unit="img")
    task.set_detail("srgan · 2/3 models")
    console.say("warning: a message while the bar runs")
    task.advance(2)
    task.close("bicubic, srresnet, srgan")
    console.say("after the bar")
    screen = out.getvalue()
    assert "set14 x4 · srgan · 2/3 models" in screen
    lines = rendered(screen)
    assert "warning: a message while the bar runs" in lines  # a line of its own, not glued onto the bar
    assert lines[-1] == "after the bar"
    assert lines[-2].startswith("set14 x4 · bicubic, srresnet, srgan: 100%") and "2/2" in lines[-2]  # kept


def rendered(screen: str) -> list[str]:
    """The lines a terminal shows: on each line, what the last carriage return left."""
    return [line.split("\r")[-1] for line in screen.rstrip("\n").split("\n")]
