#!/usr/bin/env Rscript
# R's forecast package on the same training series as bench/fleet-accuracy.ts (carparts or M1), for the
# time and accuracy comparison the fleet benchmark prints.
#
#   Rscript bench/r/carparts-r.R INPUT_CSV OUT_DIR [CORES] [METHODS]
#
# INPUT_CSV (written by the benchmark): series_id,frequency,h,values with values space-separated.
# METHODS: comma-separated subset of ets,thetaf,croston,ses,naive (default all).
# Writes OUT_DIR/forecasts_<method>.csv (series_id,step,mean,q10..q90; quantiles from
# forecast(level = c(20, 40, 60, 80)), NA where R gives no interval, as croston) and OUT_DIR/timing.csv
# (method, series, failures, fit_s = the sum of per-series elapsed times, i.e. single-core seconds,
# wall_s with CORES forked workers). Needs R with forecast (Debian: r-cran-forecast).

suppressPackageStartupMessages({
  library(forecast)
  library(parallel)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2) stop("usage: carparts-r.R INPUT_CSV OUT_DIR [CORES] [METHODS]")
input <- read.csv(args[[1]], colClasses = c("character", "integer", "integer", "character"))
out_dir <- args[[2]]
cores <- if (length(args) >= 3) as.integer(args[[3]]) else 1L
methods <- if (length(args) >= 4) strsplit(args[[4]], ",")[[1]] else c("ets", "thetaf", "croston", "ses", "naive")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

series <- lapply(seq_len(nrow(input)), function(i) {
  list(
    id = input$series_id[[i]],
    h = input$h[[i]],
    y = ts(as.numeric(strsplit(input$values[[i]], " ")[[1]]), frequency = input$frequency[[i]])
  )
})

LEVELS <- c(20, 40, 60, 80)

# Quantile q10..q90 from central intervals: level L gives the (50 -/+ L/2) % quantiles; the median is the mean.
quantile_matrix <- function(fc, h) {
  q <- matrix(NA_real_, nrow = h, ncol = 9)
  q[, 5] <- as.numeric(fc$mean)
  if (!is.null(fc$lower) && length(fc$lower) > 0) {
    lower <- as.matrix(fc$lower)
    upper <- as.matrix(fc$upper)
    for (k in seq_along(LEVELS)) {
      q[, 5 - k] <- lower[, k]
      q[, 5 + k] <- upper[, k]
    }
  }
  q
}

fit_one <- function(method, y, h) {
  switch(method,
    ets = forecast(ets(y), h = h, level = LEVELS),
    thetaf = thetaf(y, h = h, level = LEVELS),
    croston = croston(y, h = h),
    ses = ses(y, h = h, level = LEVELS),
    naive = naive(y, h = h, level = LEVELS),
    stop("unknown method ", method)
  )
}

timing <- data.frame()
for (method in methods) {
  wall <- system.time({
    results <- mclapply(series, function(s) {
      t0 <- proc.time()[["elapsed"]]
      fc <- tryCatch(fit_one(method, s$y, s$h), error = function(e) NULL)
      elapsed <- proc.time()[["elapsed"]] - t0
      q <- if (is.null(fc)) matrix(NA_real_, nrow = s$h, ncol = 9) else quantile_matrix(fc, s$h)
      list(id = s$id, q = q, failed = is.null(fc), elapsed = elapsed)
    }, mc.cores = cores)
  })[["elapsed"]]
  rows <- do.call(rbind, lapply(results, function(r) {
    data.frame(series_id = r$id, step = seq_len(nrow(r$q)), mean = r$q[, 5],
               q10 = r$q[, 1], q20 = r$q[, 2], q30 = r$q[, 3], q40 = r$q[, 4], q50 = r$q[, 5],
               q60 = r$q[, 6], q70 = r$q[, 7], q80 = r$q[, 8], q90 = r$q[, 9])
  }))
  write.csv(rows, file.path(out_dir, paste0("forecasts_", method, ".csv")), row.names = FALSE, na = "NA")
  timing <- rbind(timing, data.frame(
    method = method,
    series = length(results),
    failures = sum(vapply(results, function(r) r$failed, logical(1))),
    fit_s = sum(vapply(results, function(r) r$elapsed, numeric(1))),
    wall_s = wall
  ))
  message(sprintf("R %s: %d series, %.1f s wall", method, length(results), wall))
}
write.csv(timing, file.path(out_dir, "timing.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("forecast", as.character(packageVersion("forecast")))),
           file.path(out_dir, "versions.txt"))
