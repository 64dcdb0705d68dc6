"""Outputs of ``sgpoison dose-response``: ``table.csv``, ``table.nc``, ``signal_loss.json`` and the
figure ``dose_response.png/.pdf`` (docs/analysis.md, section 4).

The table and the rule are :mod:`sgpoison.fss.dose_response`; the figure is
:func:`sgpoison.report.figures.plot_dose_response`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from sgpoison.io.atomic import atomic_write
from sgpoison.io.formats import write_netcdf
from sgpoison.io.jsonio import to_json, write_json
from sgpoison.io.provenance import file_sha256, provenance
from sgpoison.report.summary import table_dataset

#: ``format`` of ``table.nc``
TABLE_FORMAT = "sgpoison-dose-response"
TABLE_FORMAT_VERSION = 1

def input_hashes(paths) -> dict[str, str]:
    """``{path: SHA-256}`` of every input file, for the provenance parameters."""
    return {str(p): file_sha256(p) for p in paths}


def write_dose_response(table: pd.DataFrame, signal: Mapping[str, Any], conventional: Mapping[str, Any],
                        out_dir: str | os.PathLike, parameters: Mapping[str, Any]) -> list[Path]:
    """Write ``table.csv``, ``table.nc``, ``signal_loss.json``, ``dose_response.png|pdf`` to ``out_dir`` (created if needed), each atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        The dose table with the rule's columns (:func:`sgpoison.fss.dose_response.signal_loss`).
    signal : mapping
        The rule's result (``signal_loss.json`` without provenance).
    conventional : mapping
        :func:`sgpoison.fss.dose_response.conventional_reference`.
    out_dir : path-like
    parameters : mapping
        Provenance parameters (command, inputs and their SHA-256), recorded in every output.

    Returns
    -------
    list of Path
    """
    from sgpoison.report.figures import plot_dose_response

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prov = provenance(parameters)
    csv = atomic_write(out_dir / "table.csv", lambda tmp: table.to_csv(tmp, index=False))
    ds = table_dataset(table, parameters, format=TABLE_FORMAT, format_version=TABLE_FORMAT_VERSION)
    ds.attrs.update({"axis": signal["axis"], "base_dose": signal["base_dose"],
                     "signal_loss_json": to_json(signal), "conventional_json": to_json(conventional),
                     "validation_accuracy": signal["validation_accuracy"]})
    nc = write_netcdf(ds, out_dir / "table.nc")
    js = write_json({**signal, "conventional": conventional, "provenance": prov}, out_dir / "signal_loss.json")
    figs = plot_dose_response(table, signal, conventional, out_dir / "dose_response")
    return [csv, nc, js, *figs]
