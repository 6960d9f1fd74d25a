# Fits the demo's R model and saves it with saveRDS, with a sample of rows to predict.
# A logistic regression (glm, binomial) on R's esoph data: oesophageal cancer cases and
# controls by age group, alcohol and tobacco consumption (ordered factors).
fit <- glm(cbind(ncases, ncontrols) ~ agegp + alcgp * tobgp, data = esoph, family = binomial())
saveRDS(fit, "esoph_glm.rds")
rows <- esoph[c(1, 10, 25, 40, 60, 80), c("agegp", "alcgp", "tobgp")]
write.csv(rows, "esoph_sample.csv", row.names = FALSE)
cat("saved esoph_glm.rds and esoph_sample.csv\n")
cat("R's own predictions for the sample rows (predict(type = 'response')):\n")
print(unname(round(predict(fit, newdata = rows, type = "response"), 6)))
