"""Publishing to the Hugging Face Hub: what a run directory holds, the model card, the dataset export, the upload.

    run.py          a training run directory read for publishing (config, results, training data statistics)
    model_files.py  which files of a model folder go up, and the refusal of full base weights
    model_card.py   the model card (huggingface_hub's ModelCard/ModelCardData/EvalResult), licences, the Llama rule
    usage.py        how the scores were decoded, and the card's snippet that runs the model as odin does
    dataset.py      prepared splits -> a DatasetDict written as Parquet, with the card `task=prepare` wrote
    bundle.py       what one commit uploads, and the dry run that writes it (and only replaces its own files)
    upload.py       the token, one commit through huggingface_hub's HfApi

`odin/tasks/publish.py` is the thin recipe over these. Nothing here changes or deletes a file it publishes from:
generated files (the card, the Parquet splits) are written to a staging folder, or to `<run>/publish/` on a dry run,
which removes only what an earlier dry run wrote there.
"""
