"""Reference points for the triage labels, fitted on the training rows the fine-tunes train on:

- `majority`: the most frequent label of the training split (scikit-learn's DummyClassifier);
- `classic`:  a bag-of-words classifier, TF-IDF of word 1-2 grams + logistic regression, its
              regularisation chosen by 5-fold cross-validation on the training split (deterministic,
              seconds on a CPU).

A fine-tune that does not beat these has learnt nothing that counting words could not: the report says
so. Each baseline is fitted per label field (severity, category) on the report text alone.
"""
from ftlab import triage

KINDS = ("majority", "classic")
FIELDS = tuple(triage.ENUMS)  # severity, category


def fit(kind: str, rows: list[dict], field: str):
    """A fitted scikit-learn classifier of `field` from report text; `.predict(texts)` gives labels."""
    from sklearn.dummy import DummyClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline

    texts, labels = [triage.report_of(r) for r in rows], [r[field] for r in rows]
    if kind == "majority" or len(set(labels)) < 2:  # one label only: nothing to learn but the constant
        model = DummyClassifier(strategy="most_frequent")
    elif kind == "classic":
        folds = min(5, *(labels.count(label) for label in set(labels)))
        search = (LogisticRegressionCV(Cs=[1.0, 10.0, 100.0, 1000.0], cv=StratifiedKFold(folds), max_iter=5000,
                                       scoring="accuracy", l1_ratios=(0.0,), use_legacy_attributes=False)
                  if folds >= 2 else None)  # too few rows of some label to cross-validate: a fixed C
        if search is None:
            from sklearn.linear_model import LogisticRegression

            search = LogisticRegression(C=10.0, max_iter=5000)
        model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), search)
    else:
        raise ValueError(f"unknown baseline {kind!r}; one of {', '.join(KINDS)}")
    return model.fit(texts, labels)


def fit_all(train_rows: list[dict]) -> dict:
    """Every baseline for every label field, fitted on `train_rows`: {kind: {field: classifier}}."""
    return {kind: {field: fit(kind, train_rows, field) for field in FIELDS} for kind in KINDS}


def predict(fitted: dict, rows: list[dict]) -> dict[str, list[dict]]:
    """Each fitted baseline's labels for `rows` (their report text): {kind: [{field: label, ...} per row]}."""
    texts = [triage.report_of(r) for r in rows]
    out = {}
    for kind, by_field in fitted.items():
        columns = {field: model.predict(texts).tolist() for field, model in by_field.items()}
        out[kind] = [{field: columns[field][i] for field in by_field} for i in range(len(rows))]
    return out
