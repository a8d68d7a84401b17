"""Run the real server (`python -m bot serve`) as a subprocess on a free port, for end-to-end,
browser and crash tests. Built on the benchmarks' `Spawned` process helper."""
from __future__ import annotations

import signal
import sys
from pathlib import Path

from bench.common import Spawned, free_port


class ServerProcess(Spawned):
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.data_dir = Path(data_dir)
        port = port or free_port()
        merged = {"BOT_DATA_DIR": str(self.data_dir), "WECHAT_TOKEN": "e2e-token", "BOT_ADMIN_TOKEN": "e2e-admin",
                  "BOT_SIMULATOR": "1", "BOT_PUBLIC_URL": f"http://127.0.0.1:{port}", **(env or {})}
        super().__init__([sys.executable, "-m", "bot", "serve", "--port", str(port), *args], port, env=merged,
                         log_path=self.data_dir / f"server-{port}.log")

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        super().start(timeout)
        return self

    def kill(self) -> None:
        """kill -9: no shutdown hooks run, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_tail(chars=1_000_000)
