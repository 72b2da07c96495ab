#!/usr/bin/env Rscript
# Writes the R reference fixtures that src/forecasting/*.test.ts compare against.
#
#   Rscript scripts/r/make-forecast-fixtures.R [DATA_DIR] [OUT_DIR]
#
# DATA_DIR defaults to ../shared/data, OUT_DIR to test/fixtures/forecast (run from the repository root).
# Needs R with the forecast and jsonlite packages (Debian: apt-get install r-cran-forecast).
# The series are fixed below so that the fixtures are reproducible; R and package versions are recorded
# in index.json because ets() results depend on them.

suppressPackageStartupMessages({
  library(forecast)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[[1]] else "../shared/data"
out_dir <- if (length(args) >= 2) args[[2]] else "test/fixtures/forecast"
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

# Carparts: complete series from dense to very sparse; fitted on the first 39 months (the fev protocol's
# training window), horizon 12.
CARPARTS_IDS <- c("21311636", "21033894", "21057559", "90587090", "21063109", "21058777", "90605086", "90552200")
CARPARTS_TRAIN <- 39
CARPARTS_H <- 12
# M1: monthly (one shorter than 3 years, so ets() initialises seasonality by regression), quarterly, yearly;
# fitted on the official training part with the official horizon.
M1_IDS <- c("MRB22", "MNM45", "MNG3", "QRF2", "QNG2", "QRG6", "YAF4", "YAI6")

LEVELS <- c(80, 95)
LOWER <- c(rep(1e-04, 3), 0.8)
UPPER <- c(rep(0.9999, 3), 0.98)

num <- function(x) {
  x <- as.numeric(x)
  x[!is.finite(x)] <- NA
  x
}

named_num <- function(x) {
  out <- as.list(num(x))
  names(out) <- names(x)
  out
}

intervals <- function(fc) {
  list(
    mean = num(fc$mean),
    lower80 = num(fc$lower[, 1]), upper80 = num(fc$upper[, 1]),
    lower95 = num(fc$lower[, 2]), upper95 = num(fc$upper[, 2])
  )
}

safely <- function(expr) {
  tryCatch(expr, error = function(e) list(error = conditionMessage(e)))
}

# Whether Nelder-Mead converged (fail = 0) or stopped at the 2000-evaluation budget (fail = 1). Stopped
# fits depend on the exact path, so tests hold them to looser tolerances.
optimizer_record <- function(fred) {
  if (is.null(fred)) return(NULL)
  list(fail = fred$fail, evaluations = fred$fncount)
}

ets_record <- function(fit, h) {
  fc <- forecast(fit, h = h, level = LEVELS)
  c(
    list(
      method = fit$method,
      components = as.list(fit$components),
      par = named_num(fit$par),
      sigma2 = num(fit$sigma2),
      loglik = num(fit$loglik),
      aic = num(fit$aic),
      aicc = num(fit$aicc),
      bic = num(fit$bic),
      initstate = num(fit$initstate),
      laststate = num(fit$states[nrow(fit$states), ]),
      optimizer = optimizer_record(fit$fit)
    ),
    intervals(fc)
  )
}

# The candidates ets() tries by default (additive and multiplicative error, no multiplicative trend,
# restrict = TRUE), each fitted exactly as ets() fits it, so that tests can compare every AICc.
ets_candidates <- function(y) {
  m <- frequency(y)
  seasons <- if (m > 1 && m <= 24 && length(y) > m) c("N", "A", "M") else "N"
  positive <- min(y) > 0
  out <- list()
  for (e in c("A", "M")) for (t in c("N", "A")) for (s in seasons) for (d in c(TRUE, FALSE)) {
    if (t == "N" && d) next
    if (e == "A" && s == "M") next
    if (!positive && e == "M") next
    fit <- try(forecast:::etsmodel(y, e, t, s, d, lower = LOWER, upper = UPPER, opt.crit = "lik",
                                   nmse = 3, bounds = "both"), silent = TRUE)
    failed <- inherits(fit, "try-error")
    aicc <- if (failed) NA else num(fit$aicc)
    out[[length(out) + 1]] <- list(model = paste0(e, t, if (d) "d" else "", s), aicc = aicc,
                                   optimizer = if (failed) NULL else optimizer_record(fit$fit))
  }
  out
}

fixed_models <- function(y) {
  m <- frequency(y)
  models <- c("ANN", "AAN", "AAdN")
  if (m > 1) models <- c(models, "ANA", "AAA")
  if (min(y) > 0) {
    models <- c(models, "MNN", "MAdN")
    if (m > 1) models <- c(models, "MNM", "MAM", "MAdM")
  }
  models
}

theta_seasonal <- function(x) {
  n <- length(x)
  m <- frequency(x)
  if (m > 1 && !is.constant(x) && n > 2 * m) {
    r <- as.numeric(acf(x, lag.max = m, plot = FALSE)$acf)[-1]
    stat <- sqrt((1 + 2 * sum(r[-m]^2)) / n)
    abs(r[m]) / stat > qnorm(0.95)
  } else {
    FALSE
  }
}

series_record <- function(source, id, y, h) {
  m <- frequency(y)
  rec <- list(source = source, id = id, period = m, h = h, y = num(y))

  auto <- safely(ets(y))
  rec$ets_auto <- if (is.null(auto$error)) ets_record(auto, h) else auto
  rec$ets_candidates <- ets_candidates(y)

  rec$ets_fixed <- list()
  for (model in fixed_models(y)) {
    damped <- grepl("d", model, fixed = TRUE)
    code <- gsub("d", "", model, fixed = TRUE)
    fit <- safely(ets(y, model = code, damped = damped))
    rec$ets_fixed[[model]] <- if (is.null(fit$error)) ets_record(fit, h) else fit
  }

  with_model <- function(fc) c(ets_record(fc$model, h), list(method_name = fc$method))
  rec$ses <- safely(with_model(ses(y, h = h, level = LEVELS)))
  rec$holt <- safely(with_model(holt(y, h = h, level = LEVELS)))
  rec$holt_damped <- safely(with_model(holt(y, h = h, damped = TRUE, level = LEVELS)))
  rec$hw_additive <- safely(with_model(hw(y, h = h, seasonal = "additive", level = LEVELS)))
  rec$hw_multiplicative <- safely(with_model(hw(y, h = h, seasonal = "multiplicative", level = LEVELS)))

  rec$thetaf <- safely({
    fc <- thetaf(y, h = h, level = LEVELS)
    c(list(alpha = num(fc$model$alpha), drift = num(fc$model$drift), sigma2 = num(fc$model$sigma),
           seasonal = theta_seasonal(y)), intervals(fc))
  })
  rec$croston <- safely({
    fc <- croston(y, h = h, alpha = 0.1)
    list(alpha = 0.1, mean = num(fc$mean), fitted = num(fc$fitted))
  })
  rec$naive <- safely(intervals(naive(y, h = h, level = LEVELS)))
  rec$snaive <- safely(intervals(snaive(y, h = h, level = LEVELS)))
  rec$meanf <- safely(intervals(meanf(y, h = h, level = LEVELS)))
  rec
}

write_fixture <- function(rec) {
  file <- file.path(out_dir, paste0(rec$source, "-", rec$id, ".json"))
  writeLines(toJSON(rec, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = FALSE), file)
  file
}

files <- character(0)

carparts <- read.csv(file.path(data_dir, "carparts", "carparts.csv"), colClasses = c("character", "integer", "numeric"))
for (id in CARPARTS_IDS) {
  rows <- carparts[carparts$series_id == id, ]
  rows <- rows[order(rows$period_index), ]
  y <- ts(rows$value[seq_len(CARPARTS_TRAIN)], frequency = 12, start = c(1998, 1))
  files <- c(files, write_fixture(series_record("carparts", id, y, CARPARTS_H)))
}

m1_series <- read.csv(file.path(data_dir, "m1", "m1_series.csv"), stringsAsFactors = FALSE)
m1_train <- read.csv(file.path(data_dir, "m1", "m1_train.csv"), colClasses = c("character", "integer", "numeric"))
for (id in M1_IDS) {
  meta <- m1_series[m1_series$series_id == id, ]
  rows <- m1_train[m1_train$series_id == id, ]
  rows <- rows[order(rows$period_index), ]
  y <- ts(rows$value, frequency = meta$frequency)
  files <- c(files, write_fixture(series_record("m1", id, y, meta$h)))
}

index <- list(
  generated_by = "scripts/r/make-forecast-fixtures.R",
  r_version = R.version.string,
  forecast_version = as.character(packageVersion("forecast")),
  levels = LEVELS,
  files = basename(files)
)
writeLines(toJSON(index, auto_unbox = TRUE, pretty = TRUE), file.path(out_dir, "index.json"))
cat("wrote", length(files), "fixtures to", out_dir, "\n")
