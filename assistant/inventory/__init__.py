"""What Parley knows of models, read from disk: the catalog of models it can get
(`catalog`, with the ids of the built-in ones) and the manifests of the ones
installed (`store`).

It sits below both `assistant.speech`, which finds its models here and resolves
the `stt_model` setting, and `assistant.models`, which pulls, imports, verifies
and removes models and loads them with their engines to check them. It imports
neither.
"""
