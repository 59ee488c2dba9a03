"""The load test of ``fmnist-serve``: requests/s and latency at 1, 8 and 32 clients, and where the time goes."""
