"""Tests of the Python client against a real pl-node (started by test/gateway/python-client.test.ts,
which sets PL_GATEWAY_URL, PL_GATEWAY_KEY (read, submit, publish), PL_GATEWAY_READ_KEY and PL_BUNDLE_ZIP)."""
import contextlib
import io
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pl_gateway import Gateway, GatewayError, new_dsl_workflow_executor, parse_dsl_output  # noqa: E402

URL = os.environ.get("PL_GATEWAY_URL")
KEY = os.environ.get("PL_GATEWAY_KEY", "")
READ_KEY = os.environ.get("PL_GATEWAY_READ_KEY", "")
ZIP = os.environ.get("PL_BUNDLE_ZIP")


@unittest.skipIf(URL is None, "PL_GATEWAY_URL not set (run through npm test)")
class GatewayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(URL, KEY)
        with open(ZIP, "rb") as f:
            cls.bundle = cls.gw.put_bundle(f.read())

    def test_deploy_output_and_task_output(self):
        view = self.gw.deploy("diamond", bundle=self.bundle, input={"number": 5}, wait=True)
        self.assertEqual(view["run"]["state"], "succeeded")
        self.assertEqual(view["output"], {"number": 18})
        self.assertEqual(self.gw.get_task_output(view["runId"], "start"), {"number": 5})
        self.assertEqual(parse_dsl_output('{"number": 18}'), {"number": 18})
        self.assertEqual(parse_dsl_output({"sum": {"number": 1}}, "sum"), {"number": 1})

    def test_stream_follows_a_run_to_its_end(self):
        started = self.gw.deploy("diamond", bundle=self.bundle, input={"number": 1})
        types = [m["event"]["type"] for m in self.gw.stream(started["runId"])]
        self.assertIn("pl:step:started", types)
        self.assertEqual(types[-1], "pl:run:finished")

    def test_estimate_lists_local_steps_with_limits(self):
        est = self.gw.estimate("diamond", bundle=self.bundle)
        self.assertEqual([s["placement"] for s in est["steps"]], ["local"] * 4)
        self.assertTrue(est["feasible"])
        self.assertGreater(est["critical_path_ms"], 0)

    def test_errors_are_typed(self):
        with self.assertRaises(GatewayError) as ctx:
            self.gw.run("no-such-run")
        self.assertEqual((ctx.exception.status, ctx.exception.name), (404, "RunNotFoundError"))
        with self.assertRaises(GatewayError) as ctx:
            Gateway(URL, "plk_wrong").runs()
        self.assertEqual((ctx.exception.status, ctx.exception.name), (401, "UnknownApiKeyError"))

    def test_execute_a_registered_workflow_with_the_seed_entry_points(self):
        self.gw.upload_workflow(ZIP)
        executor = new_dsl_workflow_executor("diamond", URL, True, {}, api_key=KEY)
        self.assertEqual(parse_dsl_output(executor.execute({"number": 5})), {"number": 18})
        with self.assertRaises(ValueError):
            new_dsl_workflow_executor("diamond", URL, False)


@unittest.skipIf(URL is None, "PL_GATEWAY_URL not set (run through npm test)")
class RegistryTest(unittest.TestCase):
    """The registry's routes (docs/REGISTRY.md) on a real node; the key has read, submit and publish."""

    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(URL, KEY)
        cls.record = cls.gw.upload_workflow(ZIP)

    def test_upload_is_idempotent_and_listed(self):
        self.assertEqual((self.record["workflow_id"], self.record["version"], self.record["kind"]), ("diamond", "1.0.0", "bundle"))
        self.assertEqual(self.record["publisher"], "py")
        again = self.gw.upload_workflow(ZIP)
        self.assertEqual(again["record"], self.record["record"])
        self.assertIn("diamond", [r["workflow_id"] for r in self.gw.list_workflows()])
        got = self.gw.get_workflow("diamond")
        self.assertEqual((got["record"], got["deleted"]), (self.record["record"], False))
        self.assertEqual(sorted(got["meta"]["modules"]), ["dbl", "inc", "start", "sum"])

    def test_execute_then_task_output_and_stream(self):
        view = self.gw.execute("diamond", {"number": 5})
        self.assertEqual((view["state"], view["output"], view["workflow_id"]), ("succeeded", {"number": 18}, "diamond"))
        self.assertEqual(self.gw.get_task_output(view["runId"], "inc"), {"number": 8})
        self.assertEqual(self.gw.get_task_output(view["runId"], "dbl"), {"number": 10})
        types = [m["event"]["type"] for m in self.gw.stream(view["runId"])]
        self.assertIn("pl:step:started", types)
        self.assertEqual(types[-1], "pl:run:finished")
        started = self.gw.execute("diamond", {"number": 1}, wait=False)
        self.assertNotIn("state", started)
        types = [m["event"]["type"] for m in self.gw.stream(started["runId"])]
        self.assertEqual(types[-1], "pl:run:finished")
        self.assertEqual(self.gw.run(started["runId"])["output"], {"number": 6})

    def test_estimate_of_a_registered_workflow(self):
        est = self.gw.estimate("diamond")
        self.assertEqual([s["placement"] for s in est["steps"]], ["local"] * 4)
        self.assertTrue(est["feasible"])

    def test_plan_versions_query_and_delete(self):
        plan = "goal: Summary\ninputs:\n  doc: text\nplan:\n  - step: Summarize(doc)\n"
        first = self.gw.register(plan=plan, workflow_id="summarize", release_tag="beta")
        self.assertEqual((first["kind"], first["version"], first["releaseTag"]), ("plan", "1.0.0", "beta"))
        second = self.gw.update("summarize", plan=plan.replace("Summary", "Summary2"), version="1.1.0")
        self.assertEqual(second["version"], "1.1.0")
        with self.assertRaises(GatewayError) as ctx:
            self.gw.update("summarize", plan=plan, version="1.0.5")
        self.assertEqual((ctx.exception.status, ctx.exception.name), (409, "WorkflowVersionConflictError"))
        self.assertEqual(self.gw.get_workflow("summarize")["version"], "1.1.0")
        self.assertEqual(self.gw.get_workflow("summarize", version="1.0.0")["record"], first["record"])
        self.assertEqual([r["version"] for r in self.gw.versions("summarize")["versions"]], ["1.0.0", "1.1.0"])

        found = self.gw.query({"kind": "plan", "workflow_id": {"$prefix": "summ"}})
        self.assertEqual([r["workflow_id"] for r in found["results"]], ["summarize"])
        page = self.gw.query({"deleted": False}, sort={"workflow_id": -1}, limit=1)
        self.assertEqual(len(page["results"]), 1)
        if page.get("next"):
            rest = self.gw.query({"deleted": False}, sort={"workflow_id": -1}, limit=1, cursor=page["next"])
            self.assertNotEqual(rest["results"][0]["workflow_id"], page["results"][0]["workflow_id"])

        gone = self.gw.delete("summarize")
        self.assertEqual((gone["workflow_id"], gone["purged"]), ("summarize", False))
        with self.assertRaises(GatewayError) as ctx:
            self.gw.get_workflow("summarize")
        self.assertEqual((ctx.exception.status, ctx.exception.name), (410, "WorkflowDeletedError"))
        self.assertTrue(self.gw.get_workflow("summarize", version="1.0.0")["deleted"])
        with self.assertRaises(GatewayError) as ctx:
            self.gw.execute("summarize", {})
        self.assertEqual(ctx.exception.status, 410)
        self.assertNotIn("summarize", [r["workflow_id"] for r in self.gw.list_workflows()])

    def test_bad_inputs_are_typed(self):
        cases = [
            (lambda: self.gw.get_workflow("no-such-workflow"), 404, "WorkflowNotFoundInRegistryError"),
            # the route's params schema refuses a malformed id before the registry sees it
            (lambda: self.gw.get_workflow("bad id!"), 400, "RequestValidationError"),
            (lambda: self.gw.get_workflow("diamond", version="9.9.9"), 404, "WorkflowVersionNotFoundError"),
            (lambda: self.gw.execute("no-such-workflow", {}), 404, "WorkflowNotFoundInRegistryError"),
            (lambda: self.gw.query({"$where": "1"}), 400, "UnknownQueryOperatorError"),
            (lambda: self.gw.query({"no_such_field": 1}), 400, "ForbiddenQueryKeyError"),
            # the gateway's JSON parser refuses a __proto__ key before the query is read
            (lambda: self.gw.query({"__proto__": {"x": 1}}), 400, "MalformedBodyError"),
            (lambda: self.gw.query({"name": {"$regex": "x"}}), 400, "UnknownQueryOperatorError"),
            (lambda: self.gw.register(bundle=b"not a zip"), 400, "InvalidWorkflowBundleError"),
            (lambda: self.gw.register(plan="goal: X\nplan:\n  - step: A()\n", workflow_id="diamond"), 409, "WorkflowVersionConflictError"),
            (lambda: self.gw.register(plan="goal: X\nplan:\n  - step: A()\n", workflow_id="diamond", version="2.0.0"), 409, "WorkflowExistsError"),
            (lambda: Gateway(URL, READ_KEY).upload_workflow(ZIP), 403, "MissingScopeError"),
        ]
        for call, status, name in cases:
            with self.assertRaises(GatewayError) as ctx:
                call()
            self.assertEqual((ctx.exception.status, ctx.exception.name), (status, name), str(ctx.exception))


@unittest.skipIf(URL is None, "PL_GATEWAY_URL not set (run through npm test)")
class ReadmeTest(unittest.TestCase):
    def test_the_readme_agent_runs_verbatim(self):
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "README.md")) as f:
            text = f.read()
        start = text.index("<!-- python-agent -->")
        code = text[text.index("```python\n", start) + 10:text.index("```\n", text.index("```python\n", start) + 10)]
        self.assertLessEqual(len(code.strip().splitlines()), 10)
        out = io.StringIO()
        cwd = os.getcwd()
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(ZIP, os.path.join(d, "diamond.zip"))
            os.chdir(d)
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
            finally:
                os.chdir(cwd)
        self.assertIn("succeeded {'number': 18}", out.getvalue())
        self.assertIn("pl:run:finished", out.getvalue())

if __name__ == "__main__":
    unittest.main()
