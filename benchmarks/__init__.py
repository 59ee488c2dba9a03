"""fmnist_edge.benchmarks"""
