# Reference values for src/monitoring/statistics: forecast::dm.test, wilcox.test and chisq.test on seeded
# inputs. Run from the repository root:
#   Rscript scripts/r/monitoring-fixtures.R [OUT_DIR]    # default src/monitoring/statistics/fixtures
suppressPackageStartupMessages({
  library(forecast)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[[1]] else "src/monitoring/statistics/fixtures"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
write <- function(x, name) {
  writeLines(toJSON(x, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(out, name))
}
versions <- list(R = paste(R.version$major, R.version$minor, sep = "."),
                 forecast = as.character(packageVersion("forecast")))

# Diebold-Mariano: error pairs of several lengths, some autocorrelated (MA(2), as h-step errors are),
# some heavy-tailed, one pair whose loss differences alternate so that the h = 2, 3 variance is negative.
set.seed(20261203)
series <- list()
for (n in c(8, 12, 24, 60, 150)) {
  z1 <- rnorm(n + 2); z2 <- rnorm(n + 2)
  series[[length(series) + 1]] <- list(name = sprintf("normal-n%d", n), e1 = rnorm(n), e2 = 1.2 * rnorm(n))
  series[[length(series) + 1]] <- list(name = sprintf("ma2-n%d", n),
    e1 = (z1[3:(n + 2)] + 0.6 * z1[2:(n + 1)] + 0.3 * z1[1:n]),
    e2 = 0.8 * (z2[3:(n + 2)] + 0.5 * z2[2:(n + 1)]) + 0.3 * z1[3:(n + 2)])
  series[[length(series) + 1]] <- list(name = sprintf("t3-n%d", n), e1 = rt(n, 3), e2 = rt(n, 3) + 0.4)
}
# The inputs are rounded to 15 significant digits, as the JSON holds them, so R and the tests see the same numbers.
series <- lapply(series, function(s) { s$e1 <- signif(s$e1, 15); s$e2 <- signif(s$e2, 15); s })
alt <- 40
series[[length(series) + 1]] <- list(name = "alternating-n40",
  e1 = signif(sqrt(2 + rep(c(1, -1), alt / 2) + 0.01 * rnorm(alt)), 15), e2 = rep(1.5, alt))
cases <- list()
for (s in series) for (h in 1:3) for (power in 1:2) for (alternative in c("two.sided", "less", "greater"))
  for (v in c("acf", "bartlett")) {
    warned <- FALSE
    r <- withCallingHandlers(
      dm.test(s$e1, s$e2, alternative = alternative, h = h, power = power, varestimator = v),
      warning = function(w) { warned <<- TRUE; invokeRestart("muffleWarning") })
    cases[[length(cases) + 1]] <- list(series = s$name, h = h, power = power, alternative = alternative,
      varestimator = v, statistic = unname(r$statistic), p_value = r$p.value, fell_back_to_h1 = warned)
  }
write(list(versions = versions, series = series, cases = cases), "dm.json")

# Mann-Whitney / Wilcoxon rank-sum: continuous and tied (rounded) samples, small and large.
set.seed(7)
samples <- list(
  list(name = "tiny-untied", x = rnorm(5), y = rnorm(7) + 0.5),
  list(name = "small-untied", x = rexp(12), y = rexp(15) * 1.5),
  list(name = "small-tied", x = round(rnorm(10) * 2), y = round(rnorm(14) * 2 + 1)),
  list(name = "medium-tied", x = round(rexp(40) * 10), y = round(rexp(45) * 12)),
  list(name = "large-latency", x = round(rlnorm(300, 3, 0.5), 1), y = round(rlnorm(250, 3.05, 0.5), 1)),
  list(name = "large-identical-shape", x = rnorm(120), y = rnorm(130))
)
samples <- lapply(samples, function(s) { s$x <- signif(s$x, 15); s$y <- signif(s$y, 15); s })
wcases <- list()
for (s in samples) for (alternative in c("two.sided", "less", "greater")) {
  for (correct in c(TRUE, FALSE)) {
    r <- suppressWarnings(wilcox.test(s$x, s$y, alternative = alternative, correct = correct, exact = FALSE))
    wcases[[length(wcases) + 1]] <- list(sample = s$name, alternative = alternative, correct = correct,
      exact = FALSE, statistic = unname(r$statistic), p_value = r$p.value)
  }
  if (!any(duplicated(c(s$x, s$y))) && length(s$x) < 50 && length(s$y) < 50) {
    r <- wilcox.test(s$x, s$y, alternative = alternative, exact = TRUE)
    wcases[[length(wcases) + 1]] <- list(sample = s$name, alternative = alternative, correct = TRUE,
      exact = TRUE, statistic = unname(r$statistic), p_value = r$p.value)
  }
}
write(list(versions = versions, samples = samples, cases = wcases), "wilcox.json")

# Pearson goodness of fit against known probabilities.
ccases <- list(
  list(observed = c(18, 22, 31, 29), p = c(0.25, 0.25, 0.25, 0.25)),
  list(observed = c(5, 0, 12, 40, 3), p = c(0.1, 0.05, 0.2, 0.6, 0.05)),
  list(observed = c(120, 80, 45, 30, 15, 10), p = c(0.4, 0.25, 0.15, 0.1, 0.06, 0.04))
)
for (i in seq_along(ccases)) {
  r <- suppressWarnings(chisq.test(ccases[[i]]$observed, p = ccases[[i]]$p))
  ccases[[i]]$statistic <- unname(r$statistic)
  ccases[[i]]$df <- unname(r$parameter)
  ccases[[i]]$p_value <- r$p.value
}
write(list(versions = versions, cases = ccases), "chisq.json")
