# sgpoison: reproduction of "Machine learning in physics: the pitfalls of poisoned training sets"
# (Fang, Barzegar, Katzgraber, Mach. Learn.: Sci. Technol. 1, 045001 (2020)).
#
#   snakemake --cores all                         default study (config/config.yaml)
#   snakemake --cores all --configfile config/paper.yaml --profile profiles/slurm
#
# See README.md and docs/workflow.md.

from pathlib import Path

from snakemake.utils import min_version

from sgpoison.config import validate_config

min_version("9.0")


# The default study; a --configfile given on the command line replaces it (instead of being
# merged into it, so that its scenarios are exactly the ones listed there).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# schema validation (workflow/schemas/config.schema.yaml, defaults filled in) and the checks
# beyond it (sgpoison.config); an invalid config stops here, before any job, naming the key
validate_config(
    config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
)


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/audit.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/analyze.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/dose_response.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),
