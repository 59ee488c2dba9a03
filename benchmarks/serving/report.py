"""``reports/serve.md`` and README's ``serve`` block from one load-test result."""

from __future__ import annotations

import statistics

from fmnist_edge.tables import markdown_table

from .hostile import LARGE_SIDE

LARGE = f"{LARGE_SIDE ** 2 / 1e6:.0f} M-pixel"


def shares(row: dict) -> dict:
    """Server CPU per request split into decoding, inference and the rest (HTTP, ASGI, JSON).

    Decoding and inference are the worker thread's CPU times the server reports (``cpu_ms``),
    so the shares add up to 100 % at any concurrency; the rest is the server's CPU minus both.
    A report from before ``cpu_ms`` falls back on the wall times.
    """
    cpu = row["server_cpu_us"] or 1e-9
    decode = row.get("decode_cpu_us") or row["decode_us"]
    inference = row.get("inference_cpu_us") or row["inference_us"]
    http = max(0.0, cpu - decode - inference)
    return {k: round(100 * v / cpu, 1) for k, v in
            (("http", http), ("decode", decode), ("inference", inference))}


def levels_table(levels: list[dict]) -> str:
    """One row per workload and concurrency level."""
    cells = []
    for r in levels:
        s = shares(r)
        cells.append([r["workload"], r["clients"], f"{r['requests']:,}", r["errors"], f"{r['rps']:,.0f}",
                      f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", f"{r['server_cpu_us']:,.0f}",
                      f"{s['http']:.0f} / {s['decode']:.0f} / {s['inference']:.0f}"])
    return markdown_table(["workload", "clients", "requests", "errors", "req/s", "p50 ms", "p99 ms",
                           "server CPU µs/req", "HTTP / decode / inference %"], cells)


def summary(result: dict) -> str:
    """The figures README quotes: the tables, the gate, cold start, memory, the machine."""
    env, server, gate, memory = (result["environment"], result["server"], result["gate"],
                                 result["memory_mb"])
    cold = result["cold_start_s"]
    tf = "TensorFlow importable" if server["tensorflow_importable"] else "no TensorFlow installed"
    ratios = "; ".join(f"{k} {v:.2f}×" for k, v in gate["ratios"].items()) or "none measured"
    verdict = "passed" if gate["passed"] else "FAILED (" + "; ".join(gate["failures"]) + ")"
    model = result["model"]
    lines = [
        levels_table(result["levels"]), "",
        *(hostile_lines(result["hostile"]) if result.get("hostile") else []),
        f"Gate: {verdict}. Requests/s at {gate['ratio_clients']} clients over 1 client: {ratios} "
        f"(gate ≥ {gate['min_ratio']}×).",
        *(predict_lines(result["predict"]) if result.get("predict") else []),
        (f"Cold start to the first answered request: {statistics.median(cold):.2f} s (median of "
         f"{len(cold)}; {min(cold):.2f}–{max(cold):.2f}). " if cold else "No cold start timed. ")
        + "Server RSS after start "
        f"{memory['after_start']['rss_mb']:.0f} MB, peak under load {memory['after_load']['peak_rss_mb']:.0f} MB "
        f"({memory['after_load'].get('processes', 1)} processes added up).",
        f"Model {model['file']} on {model['backend']}; server Python {server['python_version']} "
        f"({tf}); {server['banner'][0].split(': ', 1)[-1] if server['banner'] else ''}.",
        f"Machine: {env['cpu']}, {env['cores']} cores; client and server share them. Each level: "
        f"at most {result['config']['requests']:,} requests or {result['config']['seconds']:.0f} s.",
    ]
    return "\n".join(lines)


def readme_summary(result: dict) -> str:
    """README's block: the levels table, then one line each for the hostile mix, fmnist-predict,
    the gate with cold start and memory, and the model and machine."""
    env, server, gate, memory = (result["environment"], result["server"], result["gate"],
                                 result["memory_mb"])
    cold, hostile, model = result["cold_start_s"], result.get("hostile"), result["model"]
    ratios = ", ".join(f"{k} {v:.2f}×" for k, v in gate["ratios"].items())
    lines = [levels_table(result["levels"]), ""]
    if hostile:
        good = hostile["good"]
        lines.append(f"Beside the hostile mix ({_mix_text(hostile)}): {good['workload']} at "
                     f"{good['clients']} clients {good['rps']:,.0f} req/s, p99 {good['p99_ms']:.1f} ms, "
                     f"{good['errors']} errors; {_outcome_text(hostile)}.")
    if result.get("predict"):
        lines.append(predict_lines(result["predict"])[0])
    lines += [f"Gate {'passed' if gate['passed'] else 'FAILED: ' + '; '.join(gate['failures'])} "
              f"({gate['ratio_clients']} over 1 client: {ratios}). "
              + (f"First answered request {statistics.median(cold):.2f} s after start (median of "
                 f"{len(cold)}); " if cold else "")
              + "RSS after start "
              f"{memory['after_start']['rss_mb']:.0f} MB ({memory['after_start'].get('processes', 1)} "
              "processes added up).",
              f"{model['file']} on {model['backend']}, {server['banner'][0].rsplit(', ', 1)[-1] if server['banner'] else ''}; "
              f"server Python {server['python_version']} "
              f"({'TensorFlow importable' if server['tensorflow_importable'] else 'no TensorFlow'}); "
              f"{env['cpu']}, {env['cores']} cores shared with the clients; each level at most "
              f"{result['config']['requests']:,} requests or {result['config']['seconds']:.0f} s."]
    return "\n".join(lines)


def _mix_text(hostile: dict) -> str:
    mix = hostile["mix"]
    return (f"{mix['bomb']} clients posting bombs, {mix['large']} a {LARGE} PNG, {mix['slow']} "
            f"slow senders, {mix['idle']} idle connections, {hostile['seconds']:.0f} s")


def _outcome_text(hostile: dict) -> str:
    def statuses(kind: str) -> str:
        return ", ".join(f"{v:,}× {k}" for k, v in hostile[kind].items()) or "none"
    return (f"bombs {statuses('bomb')}, the {LARGE} PNG {statuses('large')}, idle connections "
            f"closed {hostile['idle']['closed_by_server']} of {hostile['idle']['connections']}, slow "
            f"senders {hostile['slow']['closed_by_server']} of {hostile['slow']['connections']}; peak "
            "RSS per server process " + ", ".join(f"{v:.0f}" for v in hostile["peak_rss_mb"]) + " MB")


def predict_lines(predict: dict) -> list[str]:
    """fmnist-predict under the server's Python: the photo folder and the first answer."""
    folder, first = predict["folder"], predict["first_answer"]
    return [f"fmnist-predict (the server's Python) on a folder of {folder['photos']} photos: "
            f"{folder['seconds']:.2f} s ({folder['photos_per_s']:,.0f} photos/s), peak RSS "
            f"{folder['peak_rss_mb']:.0f} MB, {folder['wrong']} answers not the expected class; "
            f"from its start to its first answer for one 28×28 PNG: {first['ms']:.0f} ms (median "
            f"of {first['runs']} fresh processes).", ""]


def hostile_lines(hostile: dict) -> list[str]:
    """The hostile level: the good requests' table row, then what each hostile kind got."""
    good, mix = hostile["good"], hostile["mix"]

    def statuses(kind: str) -> str:
        return ", ".join(f"{v:,}× {k}" for k, v in hostile[kind].items()) or "none"
    return [
        f"Beside the hostile mix ({mix['bomb']} clients posting bombs, {mix['large']} a {LARGE} "
        f"PNG, {mix['slow']} slow senders, {mix['idle']} idle connections; {hostile['seconds']:.0f} s):",
        "", levels_table([good]), "",
        f"Bombs: {statuses('bomb')}; the {LARGE} PNG: {statuses('large')}; slow senders closed "
        f"by the server: {hostile['slow']['closed_by_server']} of {hostile['slow']['connections']}; "
        f"idle connections closed: {hostile['idle']['closed_by_server']} of "
        f"{hostile['idle']['connections']}. Peak RSS per server process during it: "
        + ", ".join(f"{v:.0f}" for v in hostile["peak_rss_mb"]) + " MB.", ""]


def markdown(result: dict, command: str) -> str:
    """The whole of ``reports/serve.md``."""
    return ("# fmnist-serve under load\n\n"
            f"Written by `{command}`; every answer checked against the runtime's Classifier.\n\n"
            + summary(result) + "\n\n"
            "Server CPU per request is the server process's user+system time over the level, "
            "divided by the requests answered. Decode and inference are the CPU times of the "
            "worker thread that ran them, as the server reports them in each answer (`cpu_ms`); "
            "HTTP is the rest: parsing, routing, the thread hand-off, JSON.\n")
