"""The browsable API: the JSON answers as HTML pages, without forms that list rows.

DRF renders an HTML form for each write a view allows, and a form's related fields are drop-downs
of every row of the related model (all incidents, all narratives), whatever the viewer may see.
The pages keep the raw JSON form, which offers no choices, so they show exactly what the JSON
answer shows.
"""

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def get_rendered_html_form(self, data, view, method, request):
        if method in {"DELETE", "OPTIONS"}:  # a button, not a form: nothing listed
            return super().get_rendered_html_form(data, view, method, request)
        return None
