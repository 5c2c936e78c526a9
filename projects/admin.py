from django.contrib import admin

from projects.models import (
    Deliverable,
    DeliverableTransition,
    LiteratureEntry,
    Membership,
    Project,
    ProjectRevision,
    Tag,
    Target,
    TimelineEvent,
    ValueEstimate,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


class TargetInline(admin.TabularInline):
    model = Target
    extra = 0


class DeliverableInline(admin.TabularInline):
    model = Deliverable
    extra = 0
    fields = ("kind", "state", "updated_at")
    readonly_fields = ("kind", "state", "updated_at")
    can_delete = False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "visibility", "stage", "updated_at")
    list_filter = ("visibility", "stage", "tags")
    search_fields = ("title", "slug", "summary")
    # Stage follows from approved deliverables: never edited by hand.
    readonly_fields = ("stage",)
    inlines = [MembershipInline, TargetInline, DeliverableInline]


@admin.register(DeliverableTransition)
class DeliverableTransitionAdmin(admin.ModelAdmin):
    list_display = ("deliverable", "from_state", "to_state", "actor", "created_at")
    list_filter = ("to_state",)


@admin.register(TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
    list_display = ("project", "verb", "text", "actor", "created_at")
    list_filter = ("verb",)


@admin.register(LiteratureEntry)
class LiteratureEntryAdmin(admin.ModelAdmin):
    list_display = ("title", "project", "year", "feasibility", "created_by", "updated_at")
    list_filter = ("feasibility",)
    search_fields = ("title", "authors", "project__slug")


admin.site.register(Tag)
admin.site.register(ValueEstimate)
admin.site.register(ProjectRevision)
