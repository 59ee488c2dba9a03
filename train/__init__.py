"""fmnist_edge.train"""
