"""Tests of the Python client against a real pl-node (started by test/gateway/python-client.test.ts,
which sets PL_GATEWAY_URL, PL_GATEWAY_KEY and PL_BUNDLE_ZIP)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pl_gateway import Gateway, GatewayError, new_dsl_workflow_executor, parse_dsl_output  # noqa: E402

URL = os.environ.get("PL_GATEWAY_URL")
KEY = os.environ.get("PL_GATEWAY_KEY", "")
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

    def test_execute_a_registered_workflow_reaches_the_node(self):
        # no registry runs on this node: the node answers NoGraphError (execute works once a registry serves the id)
        with self.assertRaises(GatewayError) as ctx:
            new_dsl_workflow_executor("diamond", URL, True, {}, api_key=KEY).execute({"number": 1})
        self.assertEqual(ctx.exception.name, "NoGraphError")
        with self.assertRaises(ValueError):
            new_dsl_workflow_executor("diamond", URL, False)


if __name__ == "__main__":
    unittest.main()
