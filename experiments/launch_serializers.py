"""Serializers of the API's overfit-one-batch checks, grid searches and checkpoints (the launch
and read shapes; experiments.launch and experiments.checkpoints do the checking)."""

from __future__ import annotations

from rest_framework import serializers

from experiments.checkpoints import STAGES
from experiments.launch import MAX_LOSS_THRESHOLD, MAX_OVERFIT_BATCH, MAX_OVERFIT_STEPS
from experiments.serializers import MAX_NAME, TrainSerializer
from experiments.sweeps import MAX_COMBINATIONS
from projects.serializers import StrictSerializer

STAGE_HELP = f"The checkpoint stage the run works towards: {', '.join(STAGES)}"


class TrainStageSerializer(TrainSerializer):
    stage = serializers.ChoiceField(choices=STAGES, required=False, default="", allow_blank=True, help_text=STAGE_HELP)


class _VersionFields(StrictSerializer):
    dataset = serializers.SlugField(help_text="The dataset's slug")
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="The version's number")
    trainer = serializers.CharField(max_length=100)
    config = serializers.DictField(required=False, default=dict, help_text="The trainer's settings")
    name = serializers.CharField(max_length=MAX_NAME, required=False, default="", allow_blank=True)


class OverfitSerializer(_VersionFields):
    trainer = serializers.CharField(max_length=100, help_text="A torch trainer: mlp, cnn, embedding_bag…")
    batch_size = serializers.IntegerField(min_value=1, max_value=MAX_OVERFIT_BATCH, required=False, allow_null=True,
                                          default=None,
                                          help_text="Examples in the one batch; default the trainer's batch size")
    loss_threshold = serializers.FloatField(required=False, default=0.01, max_value=MAX_LOSS_THRESHOLD,
                                            help_text="Passed below this loss (above 0)")
    max_steps = serializers.IntegerField(min_value=1, max_value=MAX_OVERFIT_STEPS, required=False, default=500,
                                         help_text="Failed if still above the threshold after this many steps")


class SweepLaunchSerializer(_VersionFields):
    grid = serializers.JSONField(help_text='{setting: [values]}, e.g. {"lr": [0.01, 0.1], "epochs": [2, 4]}; '
                                 f"at most {MAX_COMBINATIONS} combinations, and no more than the caps on active "
                                 "jobs allow")
    config = serializers.DictField(required=False, default=dict, help_text="Settings every combination shares")
    stage = serializers.ChoiceField(choices=STAGES, required=False, default="", allow_blank=True, help_text=STAGE_HELP)


class SweepStartedSerializer(serializers.Serializer):
    run_id = serializers.CharField(help_text="The sweep's parent run")
    jobs = serializers.ListField(child=serializers.IntegerField(), help_text="One training job per combination")


class SweepChildSerializer(serializers.Serializer):
    combination = serializers.DictField()
    job = serializers.IntegerField(source="job.pk", allow_null=True)
    state = serializers.CharField()
    run_id = serializers.CharField(source="info.run_id", allow_null=True, default=None)
    metrics = serializers.DictField(source="info.metrics", child=serializers.FloatField(), default=dict)
    value = serializers.FloatField(allow_null=True, help_text="The ranking metric's final value")
    best = serializers.BooleanField()


class SweepSerializer(serializers.Serializer):
    run_id = serializers.CharField(source="parent.run_id")
    status = serializers.CharField(source="parent.status")
    trainer = serializers.CharField()
    grid = serializers.DictField(child=serializers.ListField())
    metric = serializers.CharField(help_text="The metric the children are ranked by")
    higher_is_better = serializers.BooleanField()
    total = serializers.IntegerField(help_text="Child jobs")
    done = serializers.IntegerField(help_text="Child jobs that have ended")
    children = SweepChildSerializer(many=True, help_text="Best first")


class RegisterSerializer(StrictSerializer):
    stage = serializers.ChoiceField(choices=STAGES, help_text="The alias set to the new version")


class CheckpointSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="The project's registered model")
    version = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField(), help_text="Aliases pointing at this version now")
    stage = serializers.CharField(help_text="The stage it was registered as")
