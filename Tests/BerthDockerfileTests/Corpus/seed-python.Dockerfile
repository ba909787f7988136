# syntax=docker/dockerfile:1
# Use the official Python image as the base.
FROM python:3.8

# Who looks after this image.
LABEL maintainer="Katie Gamanji"

# Copy the application into the image.
COPY . /app

# Work from the application directory.
WORKDIR /app

# Install the dependencies.
RUN pip install -r requirements.txt

# Start the application.
CMD [ "python", "app.py" ]
