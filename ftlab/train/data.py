"""The training rows: prepare's chat rows as TRL's conversational prompt/completion pairs."""
from pathlib import Path

from ftlab import triage
from ftlab.errors import TrainError
from ftlab.io import read_jsonl


def prompt_completion(row: dict, values: str = "spec") -> dict:
    """Chat `messages` -> TRL's conversational prompt/completion, so loss is on the answer only; a triage
    answer's label values written as `values` (triage.LABEL_VALUES) writes them."""
    *prompt, answer = row["messages"]
    if values != "spec":
        answer = {**answer, "content": triage.from_spec(answer["content"], values)}
    return {"prompt": prompt, "completion": [answer]}


def dataset(path: Path, limit, values: str = "spec"):
    """The first `limit` rows of a JSONL split as a datasets.Dataset (None when it has no rows)."""
    from datasets import Dataset

    rows = read_jsonl(path)
    if limit is not None:
        rows = rows[:limit]  # prepare already shuffled the split: the first N are a fair sample
    return Dataset.from_list([prompt_completion(r, values) for r in rows]) if rows else None


def splits(data_dir: Path, max_train_rows, max_val_rows, values: str) -> dict:
    """{"training": ..., "validation": ...} from data_dir/{train,val}.jsonl; no training rows is an error."""
    train_set = dataset(data_dir / "train.jsonl", max_train_rows, values)
    val_set = dataset(data_dir / "val.jsonl", max_val_rows, values)
    if train_set is None:
        raise TrainError(f"{data_dir / 'train.jsonl'} has no rows; run the prepare stage with more data")
    return {"training": train_set, "validation": val_set}
