"""Python client of the pl-node agent gateway (docs/GATEWAY.md) and its workflow registry (docs/REGISTRY.md).

Standard library only, Python >= 3.8.

    from pl_gateway import Gateway
    gw = Gateway("http://localhost:8080", api_key="plk_...")
    rec = gw.upload_workflow("diamond.zip")                       # POST /uploadWorkflow
    view = gw.execute(rec["workflow_id"], {"number": 5})          # execute_dsl, waits for the end
    print(view["output"])
    for event in gw.stream(view["runId"]):
        print(event["event"]["type"])
"""
import base64
import json
import os
import uuid
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["Gateway", "GatewayError", "DslWorkflowExecutor", "new_dsl_workflow_executor", "parse_dsl_output"]


def _q(segment):
    return urllib.parse.quote(segment, safe="")


def _bytes_of(bundle):
    if isinstance(bundle, (bytes, bytearray)):
        return bytes(bundle)
    with open(bundle, "rb") as f:
        return f.read()


class GatewayError(Exception):
    """An error answer of the gateway: `name` is the error class (docs/errors/gateway.md)."""

    def __init__(self, status, name, message, details=None):
        super().__init__("%s: %s" % (name, message))
        self.status = status
        self.name = name
        self.message = message
        self.details = details or {}


class Gateway:
    """A pl-node gateway at `url`, called with an API key (`pl api-key create`)."""

    def __init__(self, url, api_key, timeout=120.0):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def _request(self, method, path, body=None, timeout=None, raw=None, content_type=None):
        data = None
        headers = {"authorization": "Bearer " + self.api_key}
        if raw is not None:
            data = raw
            headers["content-type"] = content_type
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["content-type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as res:
                text = res.read().decode("utf-8")
                return json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8", "replace")
            try:
                e = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                raise GatewayError(err.code, "HTTPError", text[:500])
            raise GatewayError(err.code, e.get("name", "Error"), e.get("message", ""), e.get("details"))

    # runs
    def runs(self):
        return self._request("GET", "/runs")

    def run(self, run_id):
        return self._request("GET", "/runs/" + urllib.parse.quote(run_id, safe=""))

    def get_task_output(self, run_id, step):
        """The output of one finished step of a run (the seed's get_task_output)."""
        path = "/runs/%s/outputs/%s" % (urllib.parse.quote(run_id, safe=""), urllib.parse.quote(step, safe=""))
        return self._request("GET", path)["output"]

    def decide(self, run_id, step, choice):
        return self._request("POST", "/runs/%s/decide" % urllib.parse.quote(run_id, safe=""), {"step": step, "choice": choice})

    def cancel(self, run_id):
        return self._request("POST", "/runs/%s/cancel" % urllib.parse.quote(run_id, safe=""))

    def receipts(self, run_id):
        return self._request("GET", "/runs/%s/receipts" % urllib.parse.quote(run_id, safe=""))

    # graphs
    @staticmethod
    def _graph(dsl=None, workflow=None, bundle=None, input=None, version=None):
        body = {}
        if dsl is not None:
            body["dsl"] = dsl
        if workflow is not None:
            body["workflow"] = workflow
        if bundle is not None:
            body["bundle"] = bundle
        if input is not None:
            body["input"] = input
        if version is not None:
            body["version"] = version
        return body

    def deploy(self, graph_id, dsl=None, workflow=None, bundle=None, input=None, wait=False):
        """Runs a graph given here (DSL text, or workflow.json + stored bundle CID); `wait` answers when it ends."""
        body = self._graph(dsl, workflow, bundle, input)
        if wait:
            body["wait"] = True
        return self._request("POST", "/dsl-graph/%s/deploy" % urllib.parse.quote(graph_id, safe=""), body)

    def estimate(self, graph_id, dsl=None, workflow=None, bundle=None, input=None, version=None):
        """Dry-run negotiation: per step the candidates and the chosen provider, critical path, total price."""
        return self._request("POST", "/dsl-graph/%s/estimate" % urllib.parse.quote(graph_id, safe=""), self._graph(dsl, workflow, bundle, input, version))

    def execute(self, workflow_id, input=None, wait=True, version=None, addons=None):
        """Runs a registered workflow (POST /dsl-executor/:id/execute_dsl) with `input`.

        Answers `{runId, workflow_id, version}`; with `wait` (the default) once the run ended,
        with `state` and, when it succeeded, `output`. `addons` names addons configured on the
        node (`{"llm": ["name"], ...}`)."""
        body = {"input": input or {}}
        if version is not None:
            body["version"] = version
        if addons:
            body["addons"] = addons
        if wait:
            body["wait"] = True
        return self._request("POST", "/dsl-executor/%s/execute_dsl" % _q(workflow_id), body)

    def create_infra(self, workflow_id, version=None):
        """Warms an executor for a registered workflow (fetch, unpack, find providers)."""
        return self._request("POST", "/dsl-executor/%s/create-infra" % _q(workflow_id), {"version": version} if version else None)

    def remove_infra(self, workflow_id):
        return self._request("DELETE", "/dsl-executor/%s/remove-infra" % _q(workflow_id))

    # registry
    def list_workflows(self, include_deleted=False):
        """The latest record of every workflow the node holds."""
        path = "/workflows" + ("?include_deleted=true" if include_deleted else "")
        return self._request("GET", path)["workflows"]

    def get_workflow(self, workflow_id, version=None, refresh=False):
        """One version's record (default the latest), found in the mesh when the node does not hold it."""
        q = {}
        if version is not None:
            q["version"] = version
        if refresh:
            q["refresh"] = "true"
        path = "/workflows/" + _q(workflow_id) + ("?" + urllib.parse.urlencode(q) if q else "")
        return self._request("GET", path)

    def versions(self, workflow_id):
        """`{workflow_id, deleted, versions: [record], tombstones: [record]}`, oldest first."""
        return self._request("GET", "/workflows/%s/versions" % _q(workflow_id))

    @staticmethod
    def _register_body(plan, bundle, workflow_id, version, release_tag):
        body = {}
        if plan is not None:
            body["plan"] = plan
        if bundle is not None:
            body["bundle"] = base64.b64encode(_bytes_of(bundle)).decode("ascii")
        if workflow_id is not None:
            body["workflow_id"] = workflow_id
        if version is not None:
            body["version"] = version
        if release_tag is not None:
            body["releaseTag"] = release_tag
        return body

    def register(self, plan=None, bundle=None, workflow_id=None, version=None, release_tag=None):
        """Registers a new workflow (POST /workflows): a DSL `plan` (YAML text) or a ZIP `bundle`
        (bytes or a file path). Returns its record."""
        return self._request("POST", "/workflows", self._register_body(plan, bundle, workflow_id, version, release_tag))

    def update(self, workflow_id, plan=None, bundle=None, version=None, release_tag=None):
        """Adds a greater version to a workflow registered on this node (PUT /workflows/:id)."""
        return self._request("PUT", "/workflows/" + _q(workflow_id), self._register_body(plan, bundle, None, version, release_tag))

    def upload_workflow(self, zip_path, workflow_id=None, version=None, release_tag=None):
        """Uploads a workflow ZIP (POST /uploadWorkflow, multipart field `file`); idempotent. Returns its record."""
        with open(zip_path, "rb") as f:
            content = f.read()
        fields = [("workflow_id", workflow_id), ("version", version), ("releaseTag", release_tag)]
        boundary = "----pl" + uuid.uuid4().hex
        parts = []
        for name, value in fields:
            if value is not None:
                parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, name, value)).encode("utf-8"))
        filename = os.path.basename(zip_path).replace('"', "_")
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: application/zip\r\n\r\n" % (boundary, filename)).encode("utf-8"))
        parts.append(content)
        parts.append(("\r\n--%s--\r\n" % boundary).encode("utf-8"))
        return self._request("POST", "/uploadWorkflow", raw=b"".join(parts), content_type="multipart/form-data; boundary=" + boundary)

    def delete(self, workflow_id, purge=False):
        """Deletes a workflow (a signed tombstone; `purge` needs the admin scope)."""
        return self._request("DELETE", "/workflows/" + _q(workflow_id) + ("?purge=1" if purge else ""))

    def query(self, filter=None, sort=None, limit=None, cursor=None):
        """POST /workflows/query: `{results: [record], total, next?}` (docs/REGISTRY.md, "Query language")."""
        body = {}
        if filter is not None:
            body["filter"] = filter
        if sort is not None:
            body["sort"] = sort
        if limit is not None:
            body["limit"] = limit
        if cursor is not None:
            body["cursor"] = cursor
        return self._request("POST", "/workflows/query", body)

    def put_bundle(self, zip_bytes):
        """Stores a workflow .zip on the node; returns its CID (for deploy/estimate `bundle=`)."""
        req = urllib.request.Request(self.url + "/blocks", data=zip_bytes, method="POST",
                                     headers={"authorization": "Bearer " + self.api_key, "content-type": "application/zip"})
        with urllib.request.urlopen(req, timeout=self.timeout) as res:
            return json.loads(res.read().decode("utf-8"))["cid"]

    def stream(self, run_id, since=0, until_end=True):
        """Yields the run's events (Server-Sent Events), backlog first; stops after the run ends when `until_end`."""
        path = "/runs/%s/events/stream?since=%d" % (urllib.parse.quote(run_id, safe=""), since)
        req = urllib.request.Request(self.url + path, headers={"authorization": "Bearer " + self.api_key, "accept": "text/event-stream"})
        try:
            res = urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            e = json.loads(err.read().decode("utf-8"))["error"]
            raise GatewayError(err.code, e["name"], e["message"], e.get("details"))
        with res:
            data = []
            for raw in res:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    msg = json.loads("\n".join(data))
                    data = []
                    yield msg
                    if until_end and msg.get("event", {}).get("type") in ("pl:run:finished", "pl:run:failed"):
                        return


class DslWorkflowExecutor:
    """What `new_dsl_workflow_executor` returns: `.execute(input)` runs the workflow and returns its output."""

    def __init__(self, workflow_id, gateway, addons=None):
        self.workflow_id = workflow_id
        self.gateway = gateway
        self.addons = addons or {}

    def execute(self, input):
        view = self.gateway.execute(self.workflow_id, input, wait=True, addons=self.addons or None)
        if view.get("state") != "succeeded":
            try:
                run = self.gateway.run(view["runId"]).get("run", {})
            except GatewayError:
                run = {}
            err = run.get("error") or {}
            raise GatewayError(200, err.get("name", "RunFailedError"), err.get("message", "run %s is %s" % (view.get("runId"), view.get("state"))), {"runId": view.get("runId"), "state": view.get("state")})
        return view.get("output")


def new_dsl_workflow_executor(workflow_id, workflows_base_uri, is_remote=True, addons=None, api_key=None):
    """The seed's constructor: an executor of a registered workflow on the node at `workflows_base_uri`.

    Only remote execution (through a gateway) is offered here: `is_remote=False` would need the
    workflow's modules in this Python process, which this client does not run.
    """
    if not is_remote:
        raise ValueError("local execution is not offered by this client; run a pl-node and use its gateway (is_remote=True)")
    return DslWorkflowExecutor(workflow_id, Gateway(workflows_base_uri, api_key or ""), addons)


def parse_dsl_output(output, module_name=""):
    """The seed's helper: a run output (a JSON string or a decoded document) as a dict; with
    `module_name`, that module's part of a multi-sink output (or the whole output when it has a single sink)."""
    doc = json.loads(output) if isinstance(output, (str, bytes)) else output
    if not module_name:
        return doc
    if isinstance(doc, dict) and module_name in doc:
        return doc[module_name]
    return doc
