"""The study: every experiment of `scenelab reproduce`, in order and restartable, and its
report; and the custom-vs-native convolution study, `scenelab study conv`.

- `plan`: the budgets, the run folders and their settings, the options of every command
  the study runs (whose `to_argv()` the report prints);
- `state`: what a run folder holds (new, stopped, finished), whether a result is current,
  the wall time of each step;
- `steps`: what each section runs; `sections`: the sections, each with its number, title,
  steps, renderer and verdicts;
- `verdicts`: the seven conclusions and the rules that judge them from numbers; `judge`:
  each section's verdicts from its files; `focus`: the deletion test of saliency (conclusion 5);
- `render` (shared pieces, the header, the settings table), `render_conv`,
  `render_training`, `render_results`: the report's sections, read back from the
  dataclasses that wrote the results;
- `reproduce`: the whole study and the report; `conv`: `scenelab study conv`.
"""
