"""The REST API of the incidents app: serializers and views."""
