"""The Python client against a real daemon.

`test/e2e/python-client.test.ts` starts the daemon and sets:
  SPENDGUARD_URL, SPENDGUARD_TOKEN   the daemon and its agent token (required; else skipped)
  SPENDGUARD_CLI                     JSON argv of the `spendguard` command, e.g. ["node", "bin/spendguard.js"]
  SPENDGUARD_STATE_DIR               the daemon's state dir, so that CLI finds it and its operator token
The daemon's config (see that file): `session` limits are $1.00 in approval mode, and
`task:py-capped` has a hard $0.10 cap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spendguard import Client, Denied, Pending, RequestError  # noqa: E402
from spendguard._http import base_url  # noqa: E402

URL = os.environ.get("SPENDGUARD_URL", "")
TOKEN = os.environ.get("SPENDGUARD_TOKEN", "")
CLI: list[str] = json.loads(os.environ.get("SPENDGUARD_CLI", "[]"))
STATE_DIR = os.environ.get("SPENDGUARD_STATE_DIR", "")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class UrlTest(unittest.TestCase):
    def test_daemon_json_url_becomes_http(self) -> None:
        self.assertEqual(base_url("ws://127.0.0.1:7878"), "http://127.0.0.1:7878")
        self.assertEqual(base_url("http://127.0.0.1:7878/"), "http://127.0.0.1:7878")
        with self.assertRaises(ValueError):
            base_url("127.0.0.1:7878")


@unittest.skipUnless(URL and TOKEN, "needs a running daemon: set SPENDGUARD_URL and SPENDGUARD_TOKEN")
class DaemonTest(unittest.TestCase):
    def client(self, task: str | None = None, session: str | None = None, **kwargs: Any) -> Client:
        c = Client(URL, TOKEN, agent=unique("py-agent"), session=session or unique("py-session"), task=task or unique("py-task"), **kwargs)
        self.addCleanup(c.bye)
        return c

    def operator(self, *args: str) -> subprocess.Popen[str]:
        """Answers a prompt the way an operator would, from another process."""
        # The CLI would take SPENDGUARD_TOKEN (our agent token) for its operator token.
        env = {k: v for k, v in os.environ.items() if k != "SPENDGUARD_TOKEN"}
        return subprocess.Popen([*CLI, *args, "--state-dir", STATE_DIR], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def test_hello_returns_the_chain_and_budgets(self) -> None:
        c = self.client(task="py-hello")
        welcome = c.hello()
        self.assertEqual(welcome["type"], "welcome")
        self.assertIn("task:py-hello", welcome["scopes"])
        self.assertEqual(welcome["budgets"]["task:py-hello"]["pressure"], "ok")
        self.assertIsNotNone(c.http_session)

    def test_reserve_grant_then_commit_counts_once(self) -> None:
        c = self.client()
        grant = c.reserve(model="gpt-4o", input_tokens=1_000, max_output_tokens=500)
        self.assertEqual(grant["type"], "grant")
        self.assertGreater(grant["max_output_tokens"], 0)
        key = unique("py-commit")
        first = c.commit(grant["reservation"], input_tokens=1_000, output_tokens=200, model="gpt-4o", key=key)
        self.assertEqual(first["duplicate"], False)
        self.assertGreater(first["cost_usd"], 0)
        resent = c.commit(grant["reservation"], input_tokens=1_000, output_tokens=200, model="gpt-4o", key=key)
        self.assertEqual(resent["duplicate"], True)

    def test_spend_is_idempotent_by_key(self) -> None:
        c = self.client()
        key = unique("py-spend")
        self.assertEqual(c.spend(key, cost_usd=0.02, tool="search")["duplicate"], False)
        self.assertEqual(c.spend(key, cost_usd=0.02, tool="search")["duplicate"], True)

    def test_hard_task_cap_denies(self) -> None:
        c = self.client(task="py-capped")
        grant = c.reserve(cost_usd=0.08)
        self.addCleanup(c.release, grant["reservation"])
        with self.assertRaises(Denied) as caught:
            c.reserve(cost_usd=0.05)
        self.assertEqual(caught.exception.code, "BUDGET_EXCEEDED")
        self.assertEqual(caught.exception.scope, "task:py-capped")

    @unittest.skipUnless(CLI and STATE_DIR, "needs SPENDGUARD_CLI and SPENDGUARD_STATE_DIR to act as the operator")
    def test_pending_approval_granted_by_the_operator(self) -> None:
        answered: list[subprocess.Popen[str]] = []

        def grant_it(pending: Pending) -> None:
            # Runs while reserve() goes on to long-poll: the grant arrives during the wait.
            answered.append(self.operator("grant", pending["prompt"], "--add-usd", "1"))

        c = self.client(on_pending=grant_it)
        c.reserve(cost_usd=0.9)
        grant = c.reserve(cost_usd=0.5)
        self.assertEqual(grant["cost_usd"], 0.5)
        self.assertEqual(len(answered), 1)
        out, _ = answered[0].communicate(timeout=60)
        self.assertEqual(answered[0].returncode, 0, out)

    @unittest.skipUnless(CLI and STATE_DIR, "needs SPENDGUARD_CLI and SPENDGUARD_STATE_DIR to act as the operator")
    def test_pending_approval_denied_by_the_operator(self) -> None:
        answered: list[subprocess.Popen[str]] = []
        c = self.client(on_pending=lambda p: answered.append(self.operator("deny", p["prompt"])))
        with self.assertRaises(Denied) as caught:
            c.reserve(cost_usd=1.5)
        self.assertEqual(caught.exception.code, "APPROVAL_DENIED")
        answered[0].communicate(timeout=60)

    def test_validation_errors_name_the_field(self) -> None:
        c = self.client()
        with self.assertRaises(RequestError) as negative:
            c.reserve(input_tokens=-1)
        self.assertEqual((negative.exception.status, negative.exception.code), (400, "INVALID"))
        self.assertIn("input_tokens", negative.exception.message)
        with self.assertRaises(RequestError) as unknown:
            c.reserve(bogus=1)
        self.assertIn("bogus", unknown.exception.message)
        with self.assertRaises(RequestError) as never_issued:
            c.commit("r999-1", input_tokens=1, output_tokens=1)
        self.assertEqual(never_issued.exception.code, "UNKNOWN_RESERVATION")
        self.assertEqual(c.ping()["type"], "pong")

    def test_wrong_token_is_unauthorized(self) -> None:
        c = Client(URL, "not-the-token", agent="x", session="x", task="x")
        with self.assertRaises(RequestError) as caught:
            c.hello()
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "UNAUTHORIZED"))

    def test_guard_commits_recorded_usage_and_releases_otherwise(self) -> None:
        task = unique("py-guard")
        session = unique("py-session")
        c = self.client(task=task, session=session)
        with c.guard(cost_usd=0.03) as g:
            self.assertGreaterEqual(g.max_output_tokens, 0)
            g.record(input_tokens=0, output_tokens=0, cost_usd=0.02)
        self.assertEqual(g.ack["cost_usd"] if g.ack else None, 0.02)
        with self.assertRaises(RuntimeError):
            with c.guard(cost_usd=0.03):
                raise RuntimeError("provider call failed before any usage")
        # A task lives in one session: a second agent joins it there.
        budget = self.client(task=task, session=session).hello()["budgets"][f"task:{task}"]
        self.assertEqual(budget["spent"]["cost_usd"], 0.02)
        self.assertEqual(budget["reserved"]["cost_usd"], 0)

    def test_delegate_moves_budget_to_a_child(self) -> None:
        c = self.client()
        delegated = c.delegate(unique("py-child"), cost_usd=0.05)
        self.assertEqual(delegated["limits"]["cost_usd"], 0.05)

    def test_expired_session_is_reopened_transparently(self) -> None:
        c = self.client()
        c.hello()
        c.http_session = "no-such-session"
        self.assertEqual(c.ping()["type"], "pong")
        self.assertNotEqual(c.http_session, "no-such-session")


if __name__ == "__main__":
    unittest.main()
