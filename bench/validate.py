"""Benchmark: ``gitops-actions validate`` on a realistic 10,500-resource corpus, and peers.

    .venv/bin/python bench/validate.py [--apps 500] [--runs 5] [--workers 2] [--keep DIR]

The corpus is 500 apps x 3 environments x 7 kinds (Deployment, Service, ConfigMap,
ServiceAccount, HorizontalPodAutoscaler, Ingress, PodDisruptionBudget), one resource per
file. Each tool runs as a fresh process (start to exit); the figures are wall time,
resources per second and peak memory, sampled from /proc every 5 ms: the largest sum over
the process tree, and the largest single process.

Peers run when installed: the ``kubernetes-validate`` CLI (strict, over every file) and
``check-jsonschema`` (over the Deployments, with the strict Deployment schema, since it
has no notion of kinds). Targets: at least 10,000 resources/s, under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ENVIRONMENTS = ("dev", "staging", "prod")

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: {env}
  labels:
    app.kubernetes.io/name: {app}
    app.kubernetes.io/part-of: shop
    environment: {env}
  annotations:
    deployment.kubernetes.io/revision: "3"
spec:
  replicas: 3
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app.kubernetes.io/name: {app}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {app}
        environment: {env}
    spec:
      serviceAccountName: {app}
      securityContext:
        runAsNonRoot: true
        fsGroup: 2000
      containers:
        - name: app
          image: ghcr.io/acme/{app}:1.4.2@sha256:{digest}
          imagePullPolicy: IfNotPresent
          args: ["--port=8080", "--log-level=info"]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          env:
            - name: LOG_FORMAT
              value: json
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
          envFrom:
            - configMapRef:
                name: {app}
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 256Mi
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 10
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {{}}
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {app}
  namespace: {env}
  labels:
    app.kubernetes.io/name: {app}
    environment: {env}
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {app}
  ports:
    - name: http
      port: 80
      targetPort: http
      protocol: TCP
"""
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {app}
  namespace: {env}
  labels:
    app.kubernetes.io/name: {app}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "checkout,search"
  app.properties: |
    server.port=8080
    cache.ttl=300
"""
SERVICE_ACCOUNT = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: {app}
  namespace: {env}
  labels:
    app.kubernetes.io/name: {app}
automountServiceAccountToken: false
"""
HPA = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {app}
  namespace: {env}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {app}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
"""
INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {app}
  namespace: {env}
  annotations:
    cert-manager.io/cluster-issuer: letsencrypt
spec:
  ingressClassName: nginx
  tls:
    - hosts: ["{app}.{env}.example.com"]
      secretName: {app}-tls
  rules:
    - host: {app}.{env}.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {app}
                port:
                  name: http
"""
PDB = """apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {app}
  namespace: {env}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {app}
"""
KINDS = {
    "deployment": DEPLOYMENT,
    "service": SERVICE,
    "configmap": CONFIGMAP,
    "serviceaccount": SERVICE_ACCOUNT,
    "hpa": HPA,
    "ingress": INGRESS,
    "pdb": PDB,
}


def generate(root: Path, apps: int) -> list[Path]:
    files = []
    for i in range(apps):
        app = f"app-{i:03d}"
        digest = f"{i:064x}"
        for env in ENVIRONMENTS:
            directory = root / env / app
            directory.mkdir(parents=True, exist_ok=True)
            for name, template in KINDS.items():
                path = directory / f"{name}.yaml"
                path.write_text(template.format(app=app, env=env, digest=digest))
                files.append(path)
    return files


def _rss(pid: int) -> tuple[int, int]:
    """Resident memory (bytes) of ``pid`` and its descendants: the sum, and the largest."""
    total, largest, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                        total, largest = total + rss, max(largest, rss)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total, largest


def measure(cmd: list[str], cwd: Path, timeout: float) -> tuple[float, int, int, int]:
    """(seconds, exit code, peak tree RSS, peak single-process RSS) of one fresh run."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_tree = peak_single = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree, peak_single
        while not done.is_set():
            tree, single = _rss(proc.pid)
            peak_tree, peak_single = max(peak_tree, tree), max(peak_single, single)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    finally:
        done.set()
        sampler.join()
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1) and err:
        print(err.decode(errors="replace")[-2000:], file=sys.stderr)
    return elapsed, proc.returncode, peak_tree, peak_single


def row(name: str, resources: int, times: list[float], tree: int, single: int, note: str) -> str:
    best, median = min(times), statistics.median(times)
    rate = resources / best
    return (
        f"{name:<34} {resources:>7} {best:>8.2f} {median:>8.2f} {rate:>10,.0f} "
        f"{tree / 2**20:>9.0f} {single / 2**20:>9.0f}  {note}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--peer-timeout", type=float, default=600.0)
    parser.add_argument("--keep", type=Path, help="generate the corpus here and keep it")
    parser.add_argument("--no-peers", action="store_true", help="time gitops-actions only")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="validate-bench-"))
    corpus = work / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    files = generate(corpus, args.apps)
    resources = len(files)
    print(f"corpus: {resources} resources in {resources} files under {corpus}")
    print(f"machine: {os.cpu_count()} CPUs; best and median of {args.runs} runs\n")
    header = (
        f"{'tool':<34} {'res.':>7} {'best s':>8} {'median s':>8} {'res./s':>10} "
        f"{'tree MB':>9} {'proc MB':>9}  note"
    )
    print(header)
    print("-" * len(header))

    ours = [sys.executable, "-m", "gitops_actions", "validate", "corpus", "--format", "json"]
    ours += ["--workers", str(args.workers)]
    runs = [measure(ours, work, 120) for _ in range(args.runs)]
    assert all(code == 0 for _, code, _, _ in runs), "the corpus must validate clean"
    print(
        row(
            f"gitops-actions validate (-j{args.workers})",
            resources,
            [r[0] for r in runs],
            max(r[2] for r in runs),
            max(r[3] for r in runs),
            "strict, offline",
        )
    )

    if not args.no_peers:
        peers(work, files, args.peer_timeout)
    if not args.keep:
        shutil.rmtree(work)
    return 0


def peers(work: Path, files: list[Path], timeout: float) -> None:
    resources = len(files)
    bin_dir = Path(sys.executable).parent
    peer = shutil.which("kubernetes-validate", path=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    if peer:
        listing = [str(p.relative_to(work)) for p in files]
        cmd = [peer, "--strict", "--quiet", "-k", "1.32.0", *listing]
        try:
            elapsed, code, tree, single = measure(cmd, work, timeout)
            note = "strict, one run" if code == 0 else f"strict, exit {code}"
            print(row("kubernetes-validate", resources, [elapsed], tree, single, note))
        except subprocess.TimeoutExpired:
            print(f"{'kubernetes-validate':<34} {resources:>7}  over {timeout:.0f}s")
    else:
        print("kubernetes-validate: not installed (pip install kubernetes-validate)")

    peer = shutil.which("check-jsonschema", path=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    if peer:
        from gitops_actions.validate.schemas import Catalog

        catalog = Catalog("1.32")
        name = catalog.index[("apps/v1", "Deployment")]
        schema = {"$ref": f"#/$defs/{name}", "$defs": catalog._closure([name])}
        schema_file = work / "deployment.schema.json"
        schema_file.write_text(json.dumps(schema))
        deployments = [str(p.relative_to(work)) for p in files if p.name == "deployment.yaml"]
        cmd = [peer, "--schemafile", str(schema_file), *deployments]
        try:
            elapsed, code, tree, single = measure(cmd, work, timeout)
            note = "Deployments only, one schema, one run" + ("" if code == 0 else f", exit {code}")
            print(row("check-jsonschema", len(deployments), [elapsed], tree, single, note))
        except subprocess.TimeoutExpired:
            print(f"{'check-jsonschema':<34} over {timeout:.0f}s")
    else:
        print("check-jsonschema: not installed (pip install check-jsonschema)")


if __name__ == "__main__":
    sys.exit(main())
