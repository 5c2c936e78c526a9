"""The labelling queues on an annotator's home page (projects/home.py): every open campaign they
are assigned to, with what is left for them, linking to the labelling page."""

from __future__ import annotations

from django.urls import reverse

from datasets.annotation.selectors import campaign_list_for_annotator, left_for_annotator
from projects.home import HomeItem, HomeSection
from projects.policy import AnyUser


def labelling_queues(user: AnyUser) -> HomeSection | None:
    campaigns = list(campaign_list_for_annotator(user=user).order_by("project__title", "name"))
    if not campaigns:
        return None
    # One query for every queue: the header counts these on every page a person opens.
    left_by_campaign = left_for_annotator(campaigns=campaigns, user=user)
    items, waiting = [], 0
    for campaign in campaigns:
        left = left_by_campaign.get(campaign.pk, 0)
        waiting += 1 if left else 0
        items.append(HomeItem(
            text=f"{campaign.name} — {campaign.project.title}",
            url=reverse("annotation:label", args=[campaign.project.slug, campaign.slug]),
            detail=f"{left} item{'' if left == 1 else 's'} left for you" if left else "nothing left for you",
        ))
    return HomeSection(key="labelling", title="Your labelling queues", order=30, items=items, waiting=waiting)
