"""fmnist-serve as a real process on 127.0.0.1: routes, answers, token, bad input, metrics, faults."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import socket

import httpx
import numpy as np
import pytest

from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.images import decode_image

from .conftest import wait_exit
from .images import bomb, png, synthetic

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def server(module_server, tiny_export):
    return module_server(str(tiny_export), "--max-body", "64k", "--threads", "2")


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def direct(tiny_export):
    return Classifier.load(tiny_export)


def classify(client, body: bytes, kind="image/png", query=""):
    return client.post(f"/v1/classify{query}", content=body, headers={"Content-Type": kind})


def expected(direct, bodies: list[bytes], top_k: int = 1):
    """What the Classifier answers for these files after fmnist-predict's own conversion."""
    return direct.classify(np.stack([decode_image(b, "x") for b in bodies]), top_k)


def assert_healthy(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ready"


def test_one_image_answers_what_the_classifier_answers(client, direct, tiny_export):
    body = png(synthetic(1)[0])
    answer = classify(client, body, query="?top_k=3&name=shirt.png")
    assert answer.status_code == 200, answer.text
    data = answer.json()
    want = expected(direct, [body], 3)[0]
    result = data["results"][0]
    assert result["name"] == "shirt.png" and result["label"] == want[0].label
    assert [g["index"] for g in result["top_k"]] == [g.index for g in want]
    assert np.allclose([g["score"] for g in result["top_k"]], [g.score for g in want], atol=1e-6)
    manifest = json.loads((tiny_export / "manifest.json").read_text())
    entry = next(e for e in manifest["artifacts"] if e["file"] == "model_int8.tflite")
    assert data["model"]["sha256"] == entry["sha256"]
    assert data["model"]["file"] == "model_int8.tflite" and data["model"]["backend"] == "litert"
    assert set(data["time_ms"]) == {"decode", "inference", "server"}
    assert set(data["cpu_ms"]) == {"decode", "inference"}
    assert all(0 <= data["cpu_ms"][k] <= data["time_ms"][k] * 1.05 + 0.05 for k in data["cpu_ms"])
    assert "inference;dur=" in answer.headers["server-timing"]


def test_pixels_are_the_28x28_the_model_saw(client):
    body = png(synthetic(1, seed=3)[0])
    result = classify(client, body, query="?pixels=1").json()["results"][0]
    assert result["pixels"] == decode_image(body, "x").ravel().tolist()


def test_a_multipart_form_of_several_files_is_one_answer_in_order(client, direct):
    bodies = [png(im) for im in synthetic(5, seed=1)]
    files = [("file", (f"{i}.png", body, "image/png")) for i, body in enumerate(bodies)]
    answer = client.post("/v1/classify?top_k=2", files=files)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["name"] for r in results] == [f"{i}.png" for i in range(5)]
    assert [[g["index"] for g in r["top_k"]] for r in results] == [
        [g.index for g in e] for e in expected(direct, bodies, 2)]


def test_concurrent_requests_each_get_their_own_answer(server, direct):
    bodies = [png(im) for im in synthetic(64, seed=2)]

    def one(i):
        with httpx.Client(base_url=server.url, timeout=30) as c:
            return classify(c, bodies[i], query=f"?name={i}").json()["results"][0]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(len(bodies))))
    assert [r["name"] for r in results] == [str(i) for i in range(64)]
    assert [r["index"] for r in results] == [g[0].index for g in expected(direct, bodies)]
    assert len({r["index"] for r in results}) > 1  # the images are told apart, not all one class


@pytest.mark.parametrize("body, kind, status, fragment", [
    (b"this is not a picture", "image/png", 400, "not a readable image"),
    (png(synthetic(1)[0])[:80], "image/png", 400, "not a readable image"),
    (bomb(), "image/png", 413, "decompression-bomb guard"),
    (b"x" * 70_000, "image/png", 413, "over the limit of 65,536"),
    (png(synthetic(1)[0]), "text/plain", 415, "unsupported Content-Type 'text/plain'"),
    (b"", "image/png", 400, "empty request body"),
    (b"--xyz\r\nbroken", "multipart/form-data; boundary=xyz", 400, "multipart"),
])
def test_bad_input_is_a_4xx_with_one_line_and_the_server_carries_on(client, body, kind, status,
                                                                   fragment):
    answer = classify(client, body, kind)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["status"] == status and fragment in error["error"] and "\n" not in error["error"]
    assert_healthy(client)
    assert classify(client, png(synthetic(1)[0])).status_code == 200


def test_a_chunked_body_over_the_limit_is_cut_off(client):
    def chunks():
        for _ in range(20):
            yield b"\x00" * 8192  # 160 kB, no Content-Length: counted as it arrives
    answer = client.post("/v1/classify", content=chunks(), headers={"Content-Type": "image/png"})
    assert answer.status_code == 413 and "over the limit" in answer.json()["error"]
    assert_healthy(client)


@pytest.mark.parametrize("query, fragment", [("?top_k=0", "top_k"), ("?top_k=11", "top_k"),
                                             ("?top_k=two", "top_k")])
def test_bad_top_k(client, query, fragment):
    answer = classify(client, png(synthetic(1)[0]), query=query)
    assert answer.status_code == 400 and fragment in answer.json()["error"]


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/nope").json() == {"error": "Not Found", "status": 404}
    assert client.get("/v1/classify").status_code == 405


def test_the_page_is_one_file_without_external_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'capture="environment"' in page.text and 'accept="image/*"' in page.text
    assert "http://" not in page.text and "https://" not in page.text and "<link" not in page.text


def test_metrics_count_what_was_sent(tiny_export, start_server):
    server = start_server(str(tiny_export))
    with httpx.Client(base_url=server.url, timeout=30) as c:
        for _ in range(3):
            classify(c, png(synthetic(1)[0]))
        c.post("/v1/classify", files=[("f", ("a.png", png(synthetic(1)[0]), "image/png"))] * 4)
        classify(c, b"junk")
        classify(c, b"junk", "text/plain")
        c.get("/nope")
        text = c.get("/metrics").text
    values = _samples(text)
    assert values['fmnist_serve_requests_total{method="POST",route="/v1/classify",status="200"}'] == 4
    assert values['fmnist_serve_requests_total{method="POST",route="/v1/classify",status="400"}'] == 1
    assert values['fmnist_serve_errors_total{route="/v1/classify",status="415"}'] == 1
    assert values['fmnist_serve_errors_total{route="other",status="404"}'] == 1
    assert values["fmnist_serve_images_classified_total"] == 7
    assert values['fmnist_serve_request_duration_seconds_count{route="/v1/classify"}'] == 6
    assert values['fmnist_serve_stage_seconds_count{stage="inference"}'] == 4
    info = [k for k, v in values.items() if k.startswith("fmnist_serve_model_info{") and v == 1]
    assert len(info) == 1 and 'format="tflite"' in info[0] and 'quantization="int8"' in info[0]


def test_two_workers_share_the_socket_and_metrics_add_up(tiny_export, start_server):
    server = start_server(str(tiny_export), "--workers", "2")
    assert "2 process(es)" in server.log()
    pids, sent = set(), 0
    while len(pids) < 2 and sent < 200:  # a fresh connection each: the kernel spreads them
        with httpx.Client(base_url=server.url, timeout=30) as c:
            pids.add(c.get("/healthz").json()["pid"])
            assert classify(c, png(synthetic(1, seed=sent)[0])).status_code == 200
            sent += 1
    assert len(pids) == 2 and server.proc.pid not in pids
    with httpx.Client(base_url=server.url, timeout=30) as c:
        values = _samples(c.get("/metrics").text)
    assert values['fmnist_serve_requests_total{method="POST",route="/v1/classify",status="200"}'] == sent
    assert values['fmnist_serve_requests_total{method="GET",route="/healthz",status="200"}'] == sent
    assert values["fmnist_serve_images_classified_total"] == sent


def test_keep_alive_clients_connecting_at_once_reach_every_worker(tiny_export, start_server):
    """32 connections opened together, 3 times: each worker gets at least 4 each time. One shared
    socket gave one worker [32], [1, 31], [10, 22], [32], [7, 25], [15, 17] in six tries; a
    socket per worker spreads them by hash (P(a worker gets < 4 of 32) ≈ 1e-6)."""
    import asyncio

    server = start_server(str(tiny_export), "--workers", "2")
    host, port = server.url.split("//")[1].rstrip("/").split(":")

    async def pid_of_one_connection() -> int:
        reader, writer = await asyncio.open_connection(host, int(port))
        await asyncio.sleep(0.1)  # every connection is open before any is answered
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        return json.loads(answer.split(b"\r\n\r\n", 1)[1])["pid"]

    async def all_at_once() -> list[int]:
        return await asyncio.gather(*[pid_of_one_connection() for _ in range(32)])

    for _ in range(3):
        pids = asyncio.run(all_at_once())
        counts = sorted(pids.count(pid) for pid in set(pids))
        assert len(counts) == 2 and counts[0] >= 4 and server.proc.pid not in pids, counts


def test_a_second_server_on_the_same_port_is_refused_even_with_workers(tiny_export, start_server):
    """SO_REUSEPORT lets a server's workers share its port; another server must not join them."""
    first = start_server(str(tiny_export), "--workers", "2")
    port = first.url.rstrip("/").rsplit(":", 1)[1]
    for workers in ("2", "1"):
        second = start_server(str(tiny_export), "--port", port, "--workers", workers, ready=False)
        assert wait_exit(second) == 2
        assert second.lines[-1].startswith("fmnist-serve: error: cannot listen on 127.0.0.1:")
    with httpx.Client(base_url=first.url, timeout=30) as c:
        assert c.get("/healthz").status_code == 200


def _samples(text: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return values


def test_the_token_guards_every_route_but_healthz(tiny_export, start_server):
    server = start_server(str(tiny_export), env={"FMNIST_SERVE_TOKEN": TOKEN})
    assert "(token required)" in server.log()
    body = png(synthetic(1)[0])
    with httpx.Client(base_url=server.url, timeout=30) as c:
        for path in ("/", "/metrics"):
            assert c.get(path).status_code == 401
        missing = classify(c, body)
        assert missing.status_code == 401 and "missing token" in missing.json()["error"]
        assert "Bearer" in missing.headers["www-authenticate"]
        wrong = c.post("/v1/classify", content=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "wrong token"
        assert c.get("/healthz").status_code == 200
        bearer = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "image/png"}
        assert c.post("/v1/classify", content=body, headers=bearer).status_code == 200
        basic = "Basic " + base64.b64encode(f"phone:{TOKEN}".encode()).decode()
        assert c.get("/", headers={"Authorization": basic}).status_code == 200
        assert c.get("/metrics", headers={"Authorization": "Basic !!"}).status_code == 401


def test_a_model_that_cannot_load_exits_2_with_one_line_before_listening(tmp_path, start_server,
                                                                        tiny_export):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a model")
    for model in (tmp_path / "missing", broken):
        server = start_server(str(model), ready=False)
        assert wait_exit(server) == 2
        assert len(server.lines) == 1 and server.lines[0].startswith("fmnist-serve: error: ")
        assert server.url is None


def test_a_port_in_use_exits_2_with_one_line(tiny_export):
    from .conftest import Server

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        server = Server(str(tiny_export), "--port", str(port))
        try:
            assert wait_exit(server) == 2
            assert server.lines[-1].startswith("fmnist-serve: error: cannot listen on 127.0.0.1:")
        finally:
            server.stop()


def test_accepted_connections_get_tcp_nodelay():
    """With socket.create_server's proto 0, asyncio left Nagle on: 48 ms per answer at 1 client."""
    import asyncio

    from fmnist_edge.serve.sockets import bind

    async def accept_one() -> int:
        found = []

        async def handle(reader, writer):
            found.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP,
                                                                     socket.TCP_NODELAY))
            writer.close()
        sock = bind("127.0.0.1", 0)
        server = await asyncio.start_server(handle, sock=sock)
        async with server:
            reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            await reader.read()
            writer.close()
        return found[0]
    assert asyncio.run(accept_one()) != 0
