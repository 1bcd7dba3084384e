"""Write an InferenceData to NetCDF in bounded memory, or its parameters to Zarr.

ArviZ's ``to_netcdf`` hands each variable to xarray whole. For draws that are read lazily from
the Zarr store NUTS streamed them to (``inference.samplers``), that materialises several
copies (a 1,600-draw gene-by-line fit of the Avana sample tripled its memory writing them).
Large groups are therefore written through dask in blocks of draws: the same file, in a fifth
of the extra memory.
"""

from __future__ import annotations

from pathlib import Path

import arviz as az
import xarray as xr

#: Groups above this many bytes are written in blocks of draws.
BLOCKWISE_BYTES = 256_000_000
#: Target size of one block of the largest variable.
BLOCK_BYTES = 64_000_000


def _blockwise(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` as dask arrays chunked along ``draw`` so that no block exceeds :data:`BLOCK_BYTES`."""
    if "draw" not in ds.dims or ds.nbytes <= BLOCKWISE_BYTES:
        return ds
    per_draw = max(int(v.nbytes // max(v.sizes.get("draw", 1), 1)) for v in ds.data_vars.values())
    draws = max(1, BLOCK_BYTES // max(per_draw, 1))
    return ds.chunk({"draw": draws})


def write_posterior(idata: az.InferenceData, path: str | Path) -> None:
    """Write every group of ``idata`` to one NetCDF file, large groups block by block.

    Uncompressed: zlib (ArviZ's default) makes float32 draws only 7% smaller and takes ten times
    as long to write.
    """
    blockwise = az.InferenceData(**{g: _blockwise(getattr(idata, g)) for g in idata.groups()})
    blockwise.to_netcdf(str(path), compress=False)


#: Groups of a posterior written as Zarr: parameters and sampler statistics (CONVENTIONS.md),
#: and the pointwise log-likelihood with its observed data where it was asked for.
ZARR_GROUPS = ("posterior", "sample_stats", "log_likelihood", "observed_data")


def write_posterior_zarr(idata: az.InferenceData, path: str | Path) -> None:
    """Write the posterior and sample statistics of ``idata`` (and its log-likelihood and observed
    data, when it has them) to a Zarr store, one Zarr group each.

    For posteriors too large for NetCDF (tens of millions of values): draws read lazily from disk
    are copied chunk by chunk. (ArviZ 0.23's own ``to_zarr`` refuses zarr ≥ 3.)
    """
    first = True
    for group in ZARR_GROUPS:
        if group in idata.groups():
            ds = getattr(idata, group).copy()  # shallow: own encodings, same (lazy) data
            for var in ds.variables.values():
                var.encoding.pop("chunks", None)  # keep the chunks of the lazily read source
            # Labels as variable-length strings: Zarr v3 specifies those, not NumPy's fixed-width ones.
            text = [name for name, var in ds.variables.items() if var.dtype.kind == "U"]
            ds = ds.assign({name: ds[name].astype(object) for name in text if name in ds.data_vars})
            ds = ds.assign_coords({name: ds[name].astype(object) for name in text if name in ds.coords})
            # Not consolidated: Zarr v3 has no consolidated metadata in its specification.
            ds.to_zarr(str(path), group=group, mode="w" if first else "a", consolidated=False)
            first = False


def read_posterior_zarr(path: str | Path) -> az.InferenceData:
    """The InferenceData written by :func:`write_posterior_zarr`, read lazily."""
    groups = {}
    for group in ZARR_GROUPS:
        if (Path(path) / group).is_dir():
            groups[group] = xr.open_zarr(str(path), group=group, consolidated=False)
    return az.InferenceData(**groups)
