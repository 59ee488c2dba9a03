"""fmnist_edge.export"""
