# CRISPRcleanR's own correction, with its defaults, on one count file (used by correction_vs_crisprcleanr.py).
#
# Usage: Rscript crisprcleanr_runner.R CRISPRCLEANR_DIR COUNTS.tsv LIBRARY.csv OUT_DIR
#   CRISPRCLEANR_DIR  a checkout of github.com/francescojm/CRISPRcleanR (its R/CRISPRcleanR.R is sourced;
#                     only DNAcopy is needed for these steps: Debian's r-bioc-dnacopy)
#   COUNTS.tsv        sgRNA, gene, the pDNA column, then the replicates (CRISPRcleanR's layout)
#   LIBRARY.csv       CODE, GENES, CHRM, STARTpos, ENDpos (CRISPRcleanR's library columns)
# Writes OUT_DIR/corrected.tsv (per guide: sgRNA, gene, CHR, BP, avgFC, correctedFC) and
# OUT_DIR/segments.tsv. The steps are the package's: ccr.NormfoldChanges (min_reads 30, scaling
# by total reads), ccr.logFCs2chromPos, ccr.GWclean (CBS per chromosome, >= 3 genes a segment).
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 4) stop("usage: crisprcleanr_runner.R CRISPRCLEANR_DIR COUNTS.tsv LIBRARY.csv OUT_DIR")
suppressMessages(library(DNAcopy))
pdf(NULL)  # CRISPRcleanR draws some plots whatever `display` says; keep them off disk
source(file.path(args[1], "R", "CRISPRcleanR.R"))
out <- args[4]
dir.create(out, showWarnings = FALSE, recursive = TRUE)
library_annotation <- read.csv(args[3], stringsAsFactors = FALSE)
rownames(library_annotation) <- library_annotation[["CODE"]]
normed <- ccr.NormfoldChanges(
  filename = args[2], display = FALSE, min_reads = 30, EXPname = "screen",
  libraryAnnotation = library_annotation, outdir = paste0(out, "/")
)
sorted_fcs <- ccr.logFCs2chromPos(normed[["logFCs"]], library_annotation)
cleaned <- suppressWarnings(ccr.GWclean(sorted_fcs, display = FALSE, label = "screen", verbose = 0))
fcs <- cleaned[["corrected_logFCs"]]
write.table(
  data.frame(sgRNA = rownames(fcs), gene = fcs[["genes"]], CHR = fcs[["CHR"]], BP = fcs[["BP"]],
             avgFC = fcs[["avgFC"]], correctedFC = fcs[["correctedFC"]]),
  file.path(out, "corrected.tsv"), sep = "\t", quote = FALSE, row.names = FALSE
)
write.table(cleaned[["segments"]][, 1:5], file.path(out, "segments.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
