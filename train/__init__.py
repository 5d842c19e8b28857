"""fraudlite training: PaySim-style data, feature engineering, SMOTE + XGBoost search, report."""
