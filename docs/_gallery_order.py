"""Order of the gallery: the estimators one by one, then all four, then the GPU and a cluster."""

ORDER = [
    "plot_sparse_coder_patches.py",
    "plot_svae_norm.py",
    "plot_vsc_pipeline_grid_search.py",
    "plot_choosing_lam_without_labels.py",
    "plot_vdl_denoising.py",
    "plot_sparsity_psnr_tradeoff.py",
    "plot_gpu.py",
    "plot_grid_search_dask.py",
]


class GalleryOrder:
    """Sort key for sphinx-gallery's ``within_subsection_order``.

    Examples in :data:`ORDER` come first, in that order; any other example
    follows, by file name.
    """

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in ORDER:
            return (0, ORDER.index(filename), filename)
        return (1, 0, filename)

    def __repr__(self):
        return f"<{type(self).__name__}>"
