"""``chaosgate stack up | down | status``: the local reference stack's life cycle.

``up`` checks ports and programs, builds what is missing, renders every config, starts
supervisord (which outlives the CLI), starts the parts in order and waits for each health
check. It writes a record of what it started (:mod:`refstack.launcher.record`); ``status`` and
``down`` act on that record only, so ``down`` stops what ``up`` started and nothing else.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from refstack.launcher.builds import ensure_builds, find_system_binaries
from refstack.launcher.configs import LOG_INDEX_TEMPLATE, SERVICES, K8sDiscovery, write_configs
from refstack.launcher.health import PartRow, PartStatus, probe_parts
from refstack.launcher.k8s_builds import ensure_k8s_builds
from refstack.launcher.k8s_deploy import DeployError, deploy_restaurant
from refstack.launcher.k8s_parts import (
    DEFAULT_POD_START_DELAY_S,
    build_k8s_parts,
    k8s_files,
    kubernetes_service_ip,
    write_k8s_files,
)
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import (
    DEFAULT_RESTART_DELAY_S,
    Part,
    build_parts,
    prometheus_data_dir,
)
from refstack.launcher.ports import HOST, K8S_PORT_NAMES, PortError, find_taken_ports
from refstack.launcher.quiet import wait_quiet
from refstack.launcher.record import StackError, StackRecord, pid_alive, read_record
from refstack.launcher.stores import DEFAULT_STORE, LogStore
from refstack.launcher.supervisor import (
    SupervisorClient,
    render_supervisord_conf,
    supervisord_command,
)

if TYPE_CHECKING:  # the PKI needs cryptography, which only the local stack's extra installs
    from refstack.launcher.k8s_pki import ClusterPki

__all__ = [
    "stack_down",
    "stack_status",
    "stack_up",
    "start_supervisord",
]

Report = Callable[[str], None]

# part -> the part that must answer before it starts ("store": whichever store runs)
_DEPENDS_ON: dict[str, str] = {
    "jaeger": "store",
    "rsyslog": "store",
    "kube-apiserver": "etcd",
    "kube-controller-manager": "kube-apiserver",
    "kube-scheduler": "kube-apiserver",
    "node-agent": "kube-apiserver",
    "service-proxy": "kube-apiserver",
}


def _supervisor_processes(layout: StackLayout) -> dict[str, dict[str, object]]:
    try:
        return SupervisorClient(layout.supervisor_socket).processes()
    except OSError:
        return {}


def _cluster_pki(layout: StackLayout) -> ClusterPki:
    from refstack.launcher.k8s_pki import ClusterPki  # cryptography: the stack's extra only

    return ClusterPki(k8s_files(layout).pki_dir)


def _health_client(layout: StackLayout, record_k8s: bool, client: httpx.Client) -> httpx.Client:
    """``client``, or for the Kubernetes stack one that trusts the cluster CA (the control
    plane's health endpoints are HTTPS with the certificate of refstack.launcher.k8s_pki)."""
    if not record_k8s:
        return client
    context = ssl.create_default_context(cafile=str(_cluster_pki(layout).ca_cert))
    return httpx.Client(timeout=client.timeout, verify=context)


def stack_status(layout: StackLayout, client: httpx.Client) -> list[PartStatus] | None:
    """Every recorded part's status, or None when no stack is running."""
    record = read_record(layout)
    if record is None:
        return None
    health = _health_client(layout, record.k8s, client)
    try:
        return probe_parts(record.parts, _supervisor_processes(layout), health)
    finally:
        if health is not client:
            health.close()


def start_supervisord(layout: StackLayout, parts: Sequence[Part]) -> SupervisorClient:
    conf = layout.config_dir / "supervisord.conf"
    conf.write_text(render_supervisord_conf(layout, [part.program for part in parts]))
    layout.supervisor_socket.unlink(missing_ok=True)
    proc = subprocess.run(
        supervisord_command(conf), capture_output=True, text=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        raise StackError(
            f"supervisord did not start (exit {proc.returncode}): {proc.stderr.strip()}; "
            f"see {layout.log_dir / 'supervisord.log'}"
        )
    client = SupervisorClient(layout.supervisor_socket)
    deadline = time.monotonic() + 20
    while True:
        try:
            if client.state() == "RUNNING":
                return client
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise StackError(
                f"supervisord did not answer on {layout.supervisor_socket} within 20 s; "
                f"see {layout.log_dir / 'supervisord.log'}"
            )
        time.sleep(0.2)


def _wait_healthy(
    layout: StackLayout,
    rows: Sequence[PartRow],
    http: httpx.Client,
    timeout_s: float,
    report: Report,
    announced: set[str],
) -> list[PartStatus]:
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = probe_parts(rows, _supervisor_processes(layout), http)
        for status in statuses:
            if status.healthy and status.name not in announced:
                announced.add(status.name)
                report(f"  {status.name} is up")
            if status.process == "FATAL":
                raise StackError(
                    f"{status.name} keeps exiting ({status.detail}); "
                    f"see {layout.log_dir / (status.name + '.out.log')}"
                )
        if all(status.healthy for status in statuses):
            return statuses
        if time.monotonic() > deadline:
            waiting = [s for s in statuses if not s.healthy]
            names = ", ".join(f"{s.name} ({s.detail})" for s in waiting)
            logs = ", ".join(str(layout.log_dir / f"{s.name}.out.log") for s in waiting)
            raise StackError(f"not healthy after {timeout_s:.0f} s: {names}; see {logs}")
        time.sleep(0.5)


def _install_log_template(store: LogStore, store_url: str, http: httpx.Client) -> None:
    url = f"{store_url}/_index_template/restaurant-logs"
    try:
        response = http.put(url, json=LOG_INDEX_TEMPLATE)
    except httpx.HTTPError as exc:
        raise StackError(f"could not install the log index template at {url}: {exc}") from exc
    if response.status_code >= 300:
        raise StackError(
            f"{store.product} refused the log index template at {url}: "
            f"HTTP {response.status_code} {response.text[:300]}"
        )


def stack_up(
    layout: StackLayout,
    ports: Mapping[str, int],
    http: httpx.Client,
    *,
    report: Report,
    timeout_s: float = 300.0,
    restart_delay_s: int = DEFAULT_RESTART_DELAY_S,
    k8s: bool = False,
    pod_start_delay_s: int = DEFAULT_POD_START_DELAY_S,
    store: LogStore = DEFAULT_STORE,
) -> list[PartStatus]:
    """Start the whole stack and wait until every part is healthy; return the final status.

    With ``k8s`` the stack also runs a Kubernetes control plane, the node agent and the service
    proxy, and the restaurant services run as Deployments of ``manifests/overlays/local``
    instead of supervised programs, each container starting ``pod_start_delay_s`` after its pod
    is scheduled (the emulated cost of a real node's sandbox and image start). ``store`` keeps
    the logs and spans (:mod:`refstack.launcher.stores`).
    """
    existing = read_record(layout)
    if existing is not None:
        if dict(existing.ports) != dict(ports):
            raise StackError(
                f"a stack is already running from {layout.state_dir} with other ports; "
                "run `chaosgate stack down` first"
            )
        if existing.k8s != k8s:
            running, asked = ("with", "without") if existing.k8s else ("without", "with")
            raise StackError(
                f"a stack {running} Kubernetes is already running from {layout.state_dir}; "
                f"run `chaosgate stack down` first to start one {asked} it"
            )
        if existing.store != store.name:
            raise StackError(
                f"a stack with {existing.store} as its store is already running from "
                f"{layout.state_dir}; run `chaosgate stack down` first to start one with "
                f"{store.name}"
            )
        report("stack already running; checking its parts")
        client = SupervisorClient(layout.supervisor_socket)
        for row in existing.parts:
            client.start(row.name)
        health = _health_client(layout, k8s, http)
        try:
            statuses = _wait_healthy(layout, existing.parts, health, timeout_s, report, set())
        finally:
            if health is not http:
                health.close()
        if k8s:
            _deploy(layout, ports, timeout_s, report)
        _wait_quiet(existing.parts, http, report)
        return statuses

    wanted = {name: port for name, port in ports.items() if k8s or name not in K8S_PORT_NAMES}
    taken = find_taken_ports(wanted)
    if taken:
        raise PortError("; ".join(taken))
    binaries = find_system_binaries()
    builds = ensure_builds(layout, stores=(store,), report=report)
    discovery: K8sDiscovery | None = None
    k8s_parts: list[Part] = []
    pod_logs: Path | None = None
    if k8s:
        k8s_builds = ensure_k8s_builds(layout, report=report)
        from refstack.launcher.k8s_pki import ensure_pki  # cryptography: the stack's extra only

        pki = ensure_pki(k8s_files(layout).pki_dir, service_ip=kubernetes_service_ip())
        files = write_k8s_files(layout, ports, pki, start_delay_s=pod_start_delay_s)
        pod_logs = files.pod_logs
        discovery = K8sDiscovery(
            api_url=f"https://{HOST}:{ports['kube_apiserver']}",
            ca_file=pki.ca_cert,
            token_file=pki.token_file_of("prometheus"),
        )
        k8s_parts = build_k8s_parts(layout, ports, k8s_builds, pki, files)
        binaries = {**binaries, "prometheus": k8s_builds.prometheus}  # with kubernetes_sd
    configs = write_configs(layout, ports, k8s=discovery, pod_log_dir=pod_logs, store=store)
    parts = build_parts(
        layout,
        ports,
        builds,
        binaries,
        configs,
        restart_delay_s=restart_delay_s,
        k8s=k8s,
        store=store,
    )
    if k8s:  # the services run as pods instead
        parts = [part for part in parts if part.name not in SERVICES] + k8s_parts
    for part in parts:
        (layout.run_dir / f"{part.name}.started").unlink(missing_ok=True)
    (layout.data_dir / "sink").mkdir(parents=True, exist_ok=True)
    # Alertmanager starts without the last stack's notification log and silences: an alert
    # still firing when that stack stopped is never resolved in that log, so for an hour
    # (repeat_interval) Alertmanager would take the next episode with the same labels for one
    # already notified and send no firing notification (a run's IoTDeviceOffline did exactly
    # that after a restart, measured); a left-over silence would mute alerts the same way
    shutil.rmtree(layout.data_dir / "alertmanager", ignore_errors=True)
    # and Prometheus without the last stack's series: they carry the same job and instance
    # labels, so a run on a stack started minutes after another counted that stack's stop and
    # this one's start as restarts of each service (changes(process_start_time_seconds[2m])):
    # a smoke run on Elasticsearch right after the OpenSearch tests failed alerts.noise with
    # PodCrashLooping for users (measured)
    shutil.rmtree(prometheus_data_dir(layout, k8s=k8s), ignore_errors=True)

    report("starting supervisord")
    client = start_supervisord(layout, parts)
    rows = [PartRow(part.name, part.url, part.health_url) for part in parts]
    record = StackRecord(dict(ports), client.pid(), time.time(), rows, k8s=k8s, store=store.name)
    record.save(layout.record_file)

    health = _health_client(layout, k8s, http)
    try:
        statuses = _start_in_order(layout, client, rows, health, timeout_s, report, store)
        if k8s:
            _deploy(layout, ports, timeout_s, report)
        _wait_quiet(rows, http, report)
        return statuses
    except StackError as exc:
        raise StackError(f"{exc}; `chaosgate stack down` stops what did start") from exc
    finally:
        if health is not http:
            health.close()


def _deploy(
    layout: StackLayout, ports: Mapping[str, int], timeout_s: float, report: Report
) -> None:
    files = k8s_files(layout)
    kubectl = ensure_k8s_builds(layout).kubectl
    overlay = layout.repo_root / "manifests" / "overlays" / "local"
    report(f"deploying {overlay} (namespace restaurant) and waiting for its Deployments")
    try:
        summary = deploy_restaurant(
            kubectl=kubectl,
            kubeconfig=files.admin_kubeconfig,
            overlay=overlay,
            deploy_dir=files.deploy_dir,
            data_dir=files.app_data,
            ports=ports,
            timeout_s=timeout_s,
        )
    except DeployError as exc:
        raise StackError(str(exc)) from exc
    for line in summary.strip().splitlines():
        report(f"  {line}")
    report(f"kubeconfig: {files.admin_kubeconfig}")
    report(f"kubectl:    {kubectl} --kubeconfig {files.admin_kubeconfig} get pods -A")


def _wait_quiet(rows: Sequence[PartRow], http: httpx.Client, report: Report) -> None:
    """Up means a run can start: no alert of the start still sounds (:mod:`.quiet`)."""
    urls = {row.name: row.url for row in rows}
    report("waiting until no alert fires (Prometheus evaluated every target)")
    try:
        wait_quiet(http, urls["prometheus"], urls["alertmanager"], report=report)
    except TimeoutError as exc:
        raise StackError(str(exc)) from exc


def _start_in_order(
    layout: StackLayout,
    client: SupervisorClient,
    rows: Sequence[PartRow],
    http: httpx.Client,
    timeout_s: float,
    report: Report,
    store: LogStore,
) -> list[PartStatus]:
    """Start the parts that depend on nothing, then each dependent once its part answers."""
    by_name = {row.name: row for row in rows}
    for row in rows:
        if row.name not in _DEPENDS_ON:
            report(f"starting {row.name}")
            client.start(row.name)
    announced: set[str] = set()
    for needed in ("store", "etcd", "kube-apiserver"):
        part = store.name if needed == "store" else needed
        if part not in by_name:
            continue
        _wait_healthy(layout, [by_name[part]], http, timeout_s, report, announced)
        if needed == "store":
            _install_log_template(store, by_name[part].url, http)
        for row in rows:
            if _DEPENDS_ON.get(row.name) == needed:
                report(f"starting {row.name}")
                client.start(row.name)
    return _wait_healthy(layout, rows, http, timeout_s, report, announced)


def stack_down(layout: StackLayout, *, report: Report, timeout_s: float = 90.0) -> bool:
    """Stop what ``up`` started; False when nothing was running."""
    record = read_record(layout)
    if record is None:
        layout.record_file.unlink(missing_ok=True)
        return False
    report(f"stopping supervisord (pid {record.supervisord_pid}) and every part it runs")
    try:
        SupervisorClient(layout.supervisor_socket).shutdown()
    except OSError as exc:
        raise StackError(
            f"supervisord (pid {record.supervisord_pid}) did not answer on "
            f"{layout.supervisor_socket}: {exc}; stop it with `kill {record.supervisord_pid}`"
        ) from exc
    deadline = time.monotonic() + timeout_s
    while pid_alive(record.supervisord_pid):
        if time.monotonic() > deadline:
            raise StackError(
                f"supervisord (pid {record.supervisord_pid}) still running after {timeout_s:.0f} s"
            )
        time.sleep(0.2)
    layout.record_file.unlink(missing_ok=True)
    return True
