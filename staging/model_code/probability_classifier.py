"""MLflow models-from-code file: a scikit-learn classifier that answers with its label
and one probability column per class, so the sandbox can compare scores, not only labels.

MLflow copies this file into the logged model and runs it when the model loads, so it
imports nothing from the sandbox. The fitted estimator is a joblib artifact.
"""

import joblib
import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ProbabilityClassifier(PythonModel):
    def load_context(self, context):
        self.estimator = joblib.load(context.artifacts["estimator"])

    def predict(self, context, model_input, params=None):
        probabilities = self.estimator.predict_proba(model_input)
        classes = list(self.estimator.classes_)
        answer = pd.DataFrame(probabilities, columns=[f"probability_{c}" for c in classes])
        answer.insert(0, "label", [classes[i] for i in probabilities.argmax(axis=1)])
        return answer


mlflow.models.set_model(ProbabilityClassifier())
