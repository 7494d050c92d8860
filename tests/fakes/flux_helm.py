"""helm-controller (HelmRelease ``helm.toolkit.fluxcd.io/v2``) beside ``FluxSim``.

A HelmRelease's chart comes from a GitRepository; with ``reconcileStrategy: Revision`` the
chart version carries the commit as build metadata (``1.0.0+<first 12 hex>``), as
source-controller builds it (the HelmChart in between is not played: its artifact
revision is that version). A release reconciles when it is annotated or its source
stored a new artifact:

- ``dependsOn`` a HelmRelease that is not Ready: ``Ready=False DependencyNotReady``, again
  a moment later;
- the newest ``deployed`` release already has this chart version: nothing to do;
- else ``Reconciling=True`` / ``Ready=Unknown`` ("Running 'upgrade' action ..."), with
  ``lastAttemptedRevision``, ``lastAttemptedReleaseAction``, ``lastAttemptedGeneration``;
  then a new release in ``history`` (newest first): ``deployed`` with ``Ready=True``,
  ``Released=True`` (``InstallSucceeded`` / ``UpgradeSucceeded``, and ``TestSuccess`` when
  tests are on), or ``failed`` with ``Ready=False`` and ``Released=False``
  (``InstallFailed`` / ``UpgradeFailed``, helm's message), ``<action>Failures`` counted,
  tried again while they do not exceed ``spec.<action>.remediation.retries``, else
  ``Stalled=True RetriesExceeded``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from fakes.kube_api import REQUESTED, FluxSim, _now, condition


@dataclass
class HelmPlan:
    """How one HelmRelease's helm actions go."""

    seconds: float = 0.3  # one install or upgrade, from Reconciling to its result
    fails: int = 0  # how many attempts fail before one succeeds; -1: all of them
    message: str = "context deadline exceeded"  # helm's words for a failed attempt
    retries: int = 0  # spec.install/upgrade.remediation.retries
    test: bool = False  # spec.test.enable
    version: str = "1.0.0"  # the chart's own version
    revision_in_version: bool = True  # reconcileStrategy: Revision (else ChartVersion)


def _snapshot(
    namespace: str, name: str, number: int, chart_version: str, digest: str, state: str
) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "version": number,
        "status": state,
        "chartName": name,
        "chartVersion": chart_version,
        "configDigest": digest,
        "digest": "sha256:" + hashlib.sha256(f"{name}{number}".encode()).hexdigest(),
        "firstDeployed": _now(),
        "lastDeployed": _now(),
    }


@dataclass
class FluxHelmSim(FluxSim):
    helm_plans: dict[tuple[str, str], HelmPlan] = field(default_factory=dict)
    _attempts: dict[tuple[str, str], int] = field(default_factory=dict)

    # -- setup ---------------------------------------------------------------------------
    def helm_release(
        self,
        namespace: str,
        name: str,
        *,
        source: str = "config",
        source_namespace: str = "flux-system",
        depends_on: tuple[str, ...] = (),
        plan: HelmPlan | None = None,
        installed: bool = True,
    ) -> None:
        """A HelmRelease of the chart ``./charts/<name>``; ``installed``: released at the
        current head, else new (its first reconciliation installs)."""
        plan = plan or HelmPlan()
        self.helm_plans[(namespace, name)] = plan
        spec: dict[str, Any] = {
            "interval": "10m",
            "chart": {
                "spec": {
                    "chart": f"./charts/{name}",
                    "reconcileStrategy": "Revision" if plan.revision_in_version else "ChartVersion",
                    "sourceRef": {
                        "kind": "GitRepository",
                        "name": source,
                        "namespace": source_namespace,
                    },
                }
            },
            "install": {"remediation": {"retries": plan.retries}},
            "upgrade": {"remediation": {"retries": plan.retries}},
            "test": {"enable": plan.test},
            "values": {"replicaCount": 2},
        }
        if depends_on:
            spec["dependsOn"] = [{"name": d} for d in depends_on]
        obj = {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
            "status": {},
        }
        if installed:
            version = self._chart_version(plan, f"main@sha1:{self.head}")
            digest = self._config_digest(spec)
            message = (
                f"Helm install succeeded for release {namespace}/{name}.v1 "
                f"with chart {name}@{version}"
            )
            obj["status"] = {
                "observedGeneration": 1,
                "lastAttemptedGeneration": 1,
                "lastAttemptedRevision": version,
                "lastAttemptedConfigDigest": digest,
                "lastAttemptedReleaseAction": "install",
                "history": [_snapshot(namespace, name, 1, version, digest, "deployed")],
                "conditions": [
                    condition("Ready", "True", "InstallSucceeded", message),
                    condition("Released", "True", "InstallSucceeded", message),
                ],
            }
        self.api.put(obj)

    @staticmethod
    def _chart_version(plan: HelmPlan, source_revision: str) -> str:
        sha = source_revision.rsplit(":", 1)[-1]
        return f"{plan.version}+{sha[:12]}" if plan.revision_in_version else plan.version

    @staticmethod
    def _config_digest(spec: dict[str, Any]) -> str:
        values = json.dumps(spec.get("values") or {}, sort_keys=True).encode()
        return "sha256:" + hashlib.sha256(values).hexdigest()

    # -- the controller ------------------------------------------------------------------
    def _patched(self, plural: str, namespace: str, name: str, obj: dict[str, Any]) -> None:
        if plural != "helmreleases":
            super()._patched(plural, namespace, name, obj)
            return
        token = obj["metadata"].get("annotations", {}).get(REQUESTED)
        if token is not None and token != obj.get("status", {}).get("lastHandledReconcileAt"):
            self._later(0.02, lambda: self._release(namespace, name))

    def _source_moved(self, namespace: str, name: str) -> None:
        super()._source_moved(namespace, name)
        for (plural, ns, hr), obj in list(self.api.objects.items()):
            ref = obj["spec"].get("chart", {}).get("spec", {}).get("sourceRef", {})
            if plural == "helmreleases" and (ref.get("namespace", ns), ref.get("name")) == (
                namespace,
                name,
            ):
                self._later(0.02, lambda ns=ns, hr=hr: self._release(ns, hr))

    def _handled(self, hr: dict[str, Any]) -> None:
        token = hr["metadata"].get("annotations", {}).get(REQUESTED)
        if token:
            hr["status"]["lastHandledReconcileAt"] = token

    def _release(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        if key in self._busy:
            self._later(0.05, lambda: self._release(namespace, name))
            return
        hr = copy.deepcopy(self.api.get("HelmRelease", namespace, name))
        status, spec = hr["status"], hr["spec"]
        plan = self.helm_plans[key]
        for dep in spec.get("dependsOn", []):
            other = self.api.get("HelmRelease", dep.get("namespace", namespace), dep["name"])
            ready = any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in other["status"].get("conditions", [])
            )
            if not ready or other["status"].get("observedGeneration") != other["metadata"].get(
                "generation"
            ):
                message = (
                    f"dependency '{dep.get('namespace', namespace)}/{dep['name']}' is not ready"
                )
                status["conditions"] = [
                    c for c in status.get("conditions", []) if c["type"] not in ("Ready",)
                ] + [condition("Ready", "False", "DependencyNotReady", message)]
                self._handled(hr)
                self.api.put(hr, "MODIFIED")
                self._later(0.1, lambda: self._release(namespace, name))
                return
        ref = spec["chart"]["spec"]["sourceRef"]
        repo = self.api.get("GitRepository", ref.get("namespace", namespace), ref["name"])
        version = self._chart_version(plan, repo["status"]["artifact"]["revision"])
        digest = self._config_digest(spec)
        history = status.get("history") or []
        generation = hr["metadata"]["generation"]
        latest = history[0] if history else {}
        if (
            latest.get("status") == "deployed"
            and latest.get("chartVersion") == version
            and latest.get("configDigest") == digest
            and status.get("observedGeneration") == generation
        ):
            self._handled(hr)  # up to date: handled, nothing released
            self.api.put(hr, "MODIFIED")
            return
        # a failed install is uninstalled (the default remediation): install again
        action = "upgrade" if any(h["status"] != "failed" for h in history) else "install"
        running = f"Running '{action}' action with timeout of 5m0s"
        if status.get("lastAttemptedRevision") != version:  # a new desired state
            status.pop("installFailures", None)
            status.pop("upgradeFailures", None)
            status.pop("conditions", None)
        status |= {
            "lastAttemptedRevision": version,
            "lastAttemptedReleaseAction": action,
            "lastAttemptedGeneration": generation,
            "lastAttemptedConfigDigest": digest,
        }
        kept = [c for c in status.get("conditions", []) if c["type"] == "Released"]
        status["conditions"] = [
            condition("Reconciling", "True", "Progressing", running),
            condition("Ready", "Unknown", "Progressing", running),
            *kept,
        ]
        self.api.put(hr, "MODIFIED")
        self._busy.add(key)
        self._later(plan.seconds, lambda: self._released(namespace, name, version, digest))

    def _released(self, namespace: str, name: str, version: str, digest: str) -> None:
        key = (namespace, name)
        self._busy.discard(key)
        hr = copy.deepcopy(self.api.get("HelmRelease", namespace, name))
        status, plan = hr["status"], self.helm_plans[key]
        action = status["lastAttemptedReleaseAction"]
        history = status.setdefault("history", [])
        number = (history[0]["version"] if history else 0) + 1
        attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        status["observedGeneration"] = hr["metadata"]["generation"]
        self._handled(hr)
        Action = action.capitalize()
        if plan.fails < 0 or attempt <= plan.fails:
            failures = status[f"{action}Failures"] = status.get(f"{action}Failures", 0) + 1
            message = (
                f"Helm {action} failed for release {namespace}/{name} with chart "
                f"{name}@{version}: {plan.message}"
            )
            history.insert(0, _snapshot(namespace, name, number, version, digest, "failed"))
            status["conditions"] = [
                condition("Ready", "False", f"{Action}Failed", message),
                condition("Released", "False", f"{Action}Failed", message),
            ]
            if plan.retries >= 0 and failures > plan.retries:
                stalled = f"Failed to {action} after {failures} attempt(s)"
                status["conditions"].append(
                    condition("Stalled", "True", "RetriesExceeded", stalled)
                )
            else:
                self._later(0.1, lambda: self._release(namespace, name))
            self.api.put(hr, "MODIFIED")
            return
        for old in history:
            if old["status"] == "deployed":
                old["status"] = "superseded"
        history.insert(0, _snapshot(namespace, name, number, version, digest, "deployed"))
        status.pop(f"{action}Failures", None)
        message = (
            f"Helm {action} succeeded for release {namespace}/{name}.v{number} with chart "
            f"{name}@{version}"
        )
        status["conditions"] = [
            condition("Ready", "True", f"{Action}Succeeded", message),
            condition("Released", "True", f"{Action}Succeeded", message),
        ]
        if plan.test:
            tested = (
                f"Helm test succeeded for release {namespace}/{name}.v{number} with chart "
                f"{name}@{version}: 1 test hook completed successfully"
            )
            status["conditions"].append(condition("TestSuccess", "True", "TestSucceeded", tested))
        self.api.put(hr, "MODIFIED")
