"""fmnist_edge.runtime"""
