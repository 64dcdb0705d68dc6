"""Files: the one place for formats, JSON, atomic writes and provenance.

formats      the NetCDF formats (simulation, prediction files): :func:`~sgpoison.io.formats.write_netcdf`,
             :func:`~sgpoison.io.formats.open_simulation` (validated reading),
             :func:`~sgpoison.io.formats.merge_simulations`, :func:`~sgpoison.io.formats.overlap_layout`
jsonio       :func:`~sgpoison.io.jsonio.to_jsonable` (NaN/inf -> null), :func:`~sgpoison.io.jsonio.write_json`,
             :func:`~sgpoison.io.jsonio.read_json`
atomic       :func:`~sgpoison.io.atomic.atomic_write`, behind every writer of the package
provenance   :func:`~sgpoison.io.provenance.provenance` (version, git commit, time, parameters, code),
             :func:`~sgpoison.io.provenance.file_sha256`, code fingerprints of the installed package
             and of each command (:func:`~sgpoison.io.provenance.code_fingerprint`)
"""
