"""MLflow models-from-code file: a scikit-learn classifier that answers with its label
and one probability column per class, so the sandbox can compare scores, not only labels.

MLflow copies this file into the logged model and runs it when the model loads, so it
imports nothing from the sandbox. The fitted estimator is a pickle artifact
(a plain pickle, so the sandbox's security scan can read all of it).
"""

import pickle

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class ProbabilityClassifier(PythonModel):
    def load_context(self, context):
        with open(context.artifacts["estimator"], "rb") as file:
            self.estimator = pickle.load(file)

    def predict(self, context, model_input, params=None):
        # MLflow's scoring server parses a JSON null in a text column as None when the request
        # has one row, and as NaN when other rows give the column text. scikit-learn's imputer
        # only sees NaN as missing, so the same applicant scored differently alone and in a
        # batch (found by the sandbox's batch mode). Missing is NaN, whatever the batch.
        model_input = model_input.copy()
        for column in model_input.columns:
            if model_input[column].dtype == object:
                model_input[column] = model_input[column].where(model_input[column].notna(), np.nan)
        probabilities = self.estimator.predict_proba(model_input)
        classes = list(self.estimator.classes_)
        answer = pd.DataFrame(probabilities, columns=[f"probability_{c}" for c in classes])
        answer.insert(0, "label", [classes[i] for i in probabilities.argmax(axis=1)])
        return answer


mlflow.models.set_model(ProbabilityClassifier())
