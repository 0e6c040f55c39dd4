"""The REST API of the reviews app: serializers and views."""
